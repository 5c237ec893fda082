// CUDA backend start-up: device discovery, registration into core's tables,
// CUDA error reporting, and the per-device kernels (copies between the host
// and devices and between devices, synchronisation, the allocator's cache).
#include "cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>

#include "cuda_internal.h"

namespace lg {
namespace cuda {

void check(cudaError_t status, const char* op, const char* call) {
  if (status == cudaSuccess) return;
  // Clears the error so that the next launch check does not report it again
  // (sticky errors, which break the context, stay anyway).
  cudaGetLastError();
  detail::fail(op, ": ", call, " failed: ", cudaGetErrorString(status), " (",
               cudaGetErrorName(status), ")");
}

}  // namespace cuda

namespace {

void check_copy_operands(const Tensor& dst, const Tensor& src) {
  LG_CHECK(dst.dtype() == src.dtype() && dst.shape() == src.shape() && dst.is_contiguous() &&
               src.is_contiguous(),
           "to: a cross-device copy needs contiguous tensors of one dtype and shape, got ",
           src.describe(), " -> ", dst.describe());
}

// Returns once src's memory may be reused; the copy runs on dst's stream.
void copy_host_to_device(const Tensor& dst, const Tensor& src, size_t nbytes) {
  cuda::DeviceScope scope("to", {&dst});
  cuda::upload(scope, dst.raw_data(), src.raw_data(), nbytes);
}

// The host reads the data: waits for the kernels that produce it, and raises
// what the device's kernels reported meanwhile.
void copy_device_to_host(const Tensor& dst, const Tensor& src, size_t nbytes) {
  cuda::DeviceScope scope("to", {&src});
  cuda::check(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), nbytes, cudaMemcpyDeviceToHost,
                              scope.stream()),
              "to", "cudaMemcpyAsync");
  cuda::synchronize_and_check(scope.device(), "to");
}

// cuda:M -> cuda:N on N's stream. Events order it after the work on M that
// produces src, and M's later work (which may reuse src's block once it is
// freed) after the copy. Without peer access the driver stages through the host.
void copy_between_devices(const Tensor& dst, const Tensor& src, size_t nbytes) {
  const int from = src.device().index;
  cudaEvent_t produced = nullptr, copied = nullptr;
  {
    cuda::DeviceScope scope("to", {&src});
    cuda::check(cudaEventCreateWithFlags(&produced, cudaEventDisableTiming), "to",
                "cudaEventCreateWithFlags");
    cuda::check(cudaEventRecord(produced, scope.stream()), "to", "cudaEventRecord");
  }
  {
    cuda::DeviceScope scope("to", {&dst});
    cuda::check(cudaStreamWaitEvent(scope.stream(), produced, 0), "to", "cudaStreamWaitEvent");
    cuda::check(cudaMemcpyPeerAsync(dst.raw_data(), scope.device(), src.raw_data(), from, nbytes,
                                    scope.stream()),
                "to", "cudaMemcpyPeerAsync");
    cuda::check(cudaEventCreateWithFlags(&copied, cudaEventDisableTiming), "to",
                "cudaEventCreateWithFlags");
    cuda::check(cudaEventRecord(copied, scope.stream()), "to", "cudaEventRecord");
  }
  cuda::DeviceScope scope("to", {&src});
  cuda::check(cudaStreamWaitEvent(scope.stream(), copied, 0), "to", "cudaStreamWaitEvent");
  // Destroying a recorded event is safe: it is released once it completes.
  cudaEventDestroy(produced);
  cudaEventDestroy(copied);
}

void copy_across_devices(const Tensor& dst, const Tensor& src) {
  LG_CHECK(dst.device() != src.device() && (dst.device().is_cuda() || src.device().is_cuda()),
           "to: a cross-device copy needs two devices, one of them CUDA, got ", src.device().str(),
           " -> ", dst.device().str());
  check_copy_operands(dst, src);
  const size_t nbytes = static_cast<size_t>(src.numel()) * element_size(src.dtype());
  if (nbytes == 0) return;
  if (src.device().is_cpu()) return copy_host_to_device(dst, src, nbytes);
  if (dst.device().is_cpu()) return copy_device_to_host(dst, src, nbytes);
  copy_between_devices(dst, src, nbytes);
}

void synchronize_device(int device) {
  cuda::DeviceScope scope("cuda::synchronize", device);
  cuda::check(cudaDeviceSynchronize(), "cuda::synchronize", "cudaDeviceSynchronize");
  cuda::synchronize_and_check(device, "cuda::synchronize");
}

void synchronize() { synchronize_device(cuda::current_device("cuda::synchronize")); }

int current_device() { return cuda::current_device("cuda::current_device"); }

void set_device(int device) {
  cuda::check_device_index("cuda::set_device", device);
  cuda::check(cudaSetDevice(device), "cuda::set_device", "cudaSetDevice");
}

int query_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: not an error for lasergrad
    return 0;
  }
  // Beyond core's per-device tables a device is not used.
  return std::min(count, kMaxDevicesPerType);
}

}  // namespace

int cuda_backend_device_count() {
  static const int count = query_device_count();
  return count;
}

void register_cuda_backend() {
  if (cuda_backend_device_count() == 0) return;
  for (int d = 0; d < cuda_backend_device_count(); ++d)
    register_allocator(Device::cuda(d), &cuda::caching_allocator(d));
  for (DType dtype : {kFloat32, kFloat64, kInt64, kBool}) {
    KernelTable table;
    cuda::fill_elementwise_kernels(table, dtype);
    cuda::fill_unary_kernels(table, dtype);
    cuda::fill_binary_kernels(table, dtype);
    cuda::fill_blas_kernels(table, dtype);
    cuda::fill_reduce_kernels(table, dtype);
    cuda::fill_cumsum_kernels(table, dtype);
    cuda::fill_where_kernels(table, dtype);
    cuda::fill_activation_kernels(table, dtype);
    cuda::fill_indexing_kernels(table, dtype);
    cuda::fill_softmax_kernels(table, dtype);
    cuda::fill_normalization_kernels(table, dtype);
    cuda::fill_loss_kernels(table, dtype);
    cuda::fill_optimizer_kernels(table, dtype);
    cuda::fill_attention_kernels(table, dtype);
    cuda::fill_random_kernels(table, dtype);
    cuda::fill_sampling_kernels(table, dtype);
    cuda::fill_conv_kernels(table, dtype);
    cuda::fill_ctc_kernels(table, dtype);
    register_kernels(DeviceType::CUDA, dtype, table);
  }
  register_device_kernels(DeviceType::CUDA, {.copy_across_devices = copy_across_devices,
                                             .synchronize = synchronize,
                                             .synchronize_device = synchronize_device,
                                             .empty_cache = cuda::release_cached_blocks,
                                             .cached_bytes = cuda::cached_block_bytes,
                                             .current_device = current_device,
                                             .set_device = set_device});
}

}  // namespace lg
