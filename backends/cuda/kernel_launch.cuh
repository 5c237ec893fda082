// The one way the CUDA backend launches a kernel (on the stream of the
// innermost DeviceScope), and the device side of the error flag that kernels
// report bad input to.
#pragma once
#include "cuda_internal.h"

namespace lg::cuda {

// Launches kernel<<<blocks, threads, shared_bytes>>>(args...) on the stream of
// the innermost DeviceScope: the one way this backend launches, so that no
// launch can run on another stream (it refuses outside a scope).
template <typename... Params, typename... Args>
void launch_kernel(void (*kernel)(Params...), int blocks, int threads, size_t shared_bytes,
                   Args&&... args) {
  const DeviceScope& scope = DeviceScope::current("CUDA kernel launch");
  kernel<<<blocks, threads, shared_bytes, scope.stream()>>>(static_cast<Params>(args)...);
  check(cudaGetLastError(), scope.op(), "kernel launch");
}

// Records the first bad value a kernel meets (one of the kFound kinds, with
// the flat index or sample it belongs to, if any); later ones are dropped, the
// host reports one. `found` goes last, after a fence, so that the host never
// sees it without the fields.
__device__ inline void report_bad(DeviceError* e, int op, int found, long long value, long long lo,
                                  long long hi, long long at = -1) {
  if (atomicCAS(&e->found, 0, -1) != 0) return;
  e->op = op;
  e->value = value;
  e->lo = lo;
  e->hi = hi;
  e->at = at;
  __threadfence();
  atomicExch(&e->found, found);
}

}  // namespace lg::cuda
