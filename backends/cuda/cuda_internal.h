// Internal to the CUDA backend: turning CUDA errors into lg::Error, the
// per-device stream and error flag, the device scope every kernel entry
// opens, and the parts of the kernel table each file fills.
#pragma once
#include <cuda_runtime.h>
#include <lasergrad/core/storage.h>

#include <initializer_list>

#include "../../core/kernels.h"

namespace lg::cuda {

// Throws lg::Error "op: call failed: <CUDA's message>" unless status is cudaSuccess.
void check(cudaError_t status, const char* op, const char* call);

// A device's kernels, cub calls, cuBLAS calls, memsets and copies all go to
// its one stream (created on first use, non-blocking, so it does not order
// against the legacy default stream). One stream per device keeps the work of
// a device in program order without events between ops, which is what makes
// the caching allocator's immediate reuse of freed blocks safe.
cudaStream_t device_stream(int device);

// What a kernel's device-side check found first (index validation and the
// like, which would otherwise need the host to read device memory inside the
// op): the op (an id from op_id), the kind of value, the bad value, the
// allowed range and where it was met. Checked at the next synchronisation
// point, see synchronize_and_check, which words the message by kind.
inline constexpr int kFoundIndex = 1;         // an index out of [lo, hi), its dim's range
inline constexpr int kFoundTarget = 2;        // a class target out of [lo, hi), at flat index `at`
inline constexpr int kFoundInputLength = 3;   // sample `at`'s input length out of [lo, hi]
inline constexpr int kFoundTargetLength = 4;  // sample `at`'s target length out of [lo, hi]
inline constexpr int kFoundLabel = 5;         // a label of sample `at` out of [lo, hi) or the blank
inline constexpr int kFoundProbability = 6;   // row `at` of probs: column `value` negative/NaN/inf
inline constexpr int kFoundZeroRow = 7;       // row `at` of probs sums to 0
inline constexpr int kFoundFewCategories = 8;  // row `at`: `value` non-zero, fewer than lo draws
struct DeviceError {
  int found;  // 0 while nothing was reported, else one of the kFound kinds
  int op;
  long long value, lo, hi;
  long long at;  // the flat index or sample the value belongs to, -1 if none
};

// Opens a scope for one op's CUDA work: checks that the tensors all live on
// one cuda:N with N < the device count, makes N the current device, and gives
// the launch helpers (launch.cuh) its stream and error flag; they refuse to
// launch outside a scope, so no launch can miss the stream.
class DeviceScope {
 public:
  DeviceScope(const char* op, std::initializer_list<const Tensor*> tensors);
  DeviceScope(const char* op, int device);  // for calls that take no tensors
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

  const char* op() const { return op_; }
  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  // The device's error flag, and the id of the op its reports name (the
  // caller's detail::ReportAs, else this scope's op).
  DeviceError* error_flag() const;
  int report_id() const;

  // The innermost scope open on this thread; lg::Error naming `what` if none.
  static const DeviceScope& current(const char* what);

 private:
  void enter(int device);
  const char* op_;
  int device_ = 0;
  int previous_ = 0;
  cudaStream_t stream_ = nullptr;
  const DeviceScope* outer_ = nullptr;
};

// The stream of the innermost DeviceScope, for cub, memsets and copies.
inline cudaStream_t scope_stream(const char* op) { return DeviceScope::current(op).stream(); }

// The caller's device (cudaGetDevice).
int current_device(const char* op);
// lg::Error "op: device cuda:N does not exist (M CUDA devices)" unless
// 0 <= N < M (cuda_backend_device_count).
void check_device_index(const char* op, int device);

// Waits for the device's stream, then raises the first error its kernels
// reported since the last check (and clears it).
void synchronize_and_check(int device, const char* op);

// An id for an op name (a string literal) that a device-side error can carry.
int op_id(const char* op);

// Host -> device through pinned staging buffers: returns once src may be
// reused, without waiting for the copy. dst: memory on the scope's device.
void upload(const DeviceScope& scope, void* dst, const void* src, size_t nbytes);

// The caching allocator for one device's memory (one pool per device).
Allocator& caching_allocator(int device);
// Gives its cached free blocks back to the driver (waits for the device), and
// the bytes those blocks hold: lg::cuda::empty_cache and memory_stats().cached.
void release_cached_blocks(int device);
size_t cached_block_bytes(int device);

void fill_elementwise_kernels(KernelTable& table, DType dtype);
void fill_unary_kernels(KernelTable& table, DType dtype);
void fill_binary_kernels(KernelTable& table, DType dtype);
void fill_blas_kernels(KernelTable& table, DType dtype);
void fill_reduce_kernels(KernelTable& table, DType dtype);
void fill_cumsum_kernels(KernelTable& table, DType dtype);
void fill_where_kernels(KernelTable& table, DType dtype);
void fill_activation_kernels(KernelTable& table, DType dtype);
void fill_indexing_kernels(KernelTable& table, DType dtype);
void fill_softmax_kernels(KernelTable& table, DType dtype);
void fill_normalization_kernels(KernelTable& table, DType dtype);
void fill_loss_kernels(KernelTable& table, DType dtype);
void fill_optimizer_kernels(KernelTable& table, DType dtype);
void fill_attention_kernels(KernelTable& table, DType dtype);
void fill_random_kernels(KernelTable& table, DType dtype);
void fill_sampling_kernels(KernelTable& table, DType dtype);
void fill_conv_kernels(KernelTable& table, DType dtype);
void fill_ctc_kernels(KernelTable& table, DType dtype);

template <typename T>
T* ptr(const Tensor& t) {
  return static_cast<T*>(t.raw_data());
}

}  // namespace lg::cuda
