// CUDA backend start-up: device discovery, registration into core's tables,
// CUDA error reporting, and the per-device kernels (host<->device copies,
// synchronisation, the allocator's cache).
#include "cuda_backend.h"

#include <cuda_runtime.h>

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

DeviceScope::DeviceScope(const char* op, std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* t : tensors)
    LG_CHECK(t->device() == Device::cuda(0), op,
             ": the CUDA backend runs on cuda:0 only so far, got ", t->describe());
  check(cudaGetDevice(&previous_), op, "cudaGetDevice");
  if (previous_ != 0) check(cudaSetDevice(0), op, "cudaSetDevice");
}

DeviceScope::~DeviceScope() {
  // Restoring the caller's device cannot fail in a way worth throwing from a
  // destructor: the device was current a moment ago.
  if (previous_ != 0) cudaSetDevice(previous_);
}

}  // namespace cuda

namespace {

// dst and src: same dtype and shape, both contiguous, one on cuda:0 and one on the CPU.
void copy_across_devices(const Tensor& dst, const Tensor& src) {
  const bool upload = dst.device().is_cuda();
  LG_CHECK(upload != src.device().is_cuda(),
           "to: a cross-device copy needs one CPU and one CUDA tensor, got ", src.device().str(),
           " -> ", dst.device().str());
  cuda::DeviceScope scope("to", {upload ? &dst : &src});
  LG_CHECK(dst.dtype() == src.dtype() && dst.shape() == src.shape() && dst.is_contiguous() &&
               src.is_contiguous(),
           "to: a cross-device copy needs contiguous tensors of one dtype and shape, got ",
           src.describe(), " -> ", dst.describe());
  const size_t nbytes = static_cast<size_t>(src.numel()) * element_size(src.dtype());
  if (nbytes == 0) return;
  cuda::check(cudaMemcpy(dst.raw_data(), src.raw_data(), nbytes,
                         upload ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost),
              "to", "cudaMemcpy");
}

void synchronize() {
  cuda::DeviceScope scope("synchronize", {});
  cuda::check(cudaDeviceSynchronize(), "synchronize", "cudaDeviceSynchronize");
}

int query_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: not an error for lasergrad
    return 0;
  }
  return count;
}

}  // namespace

int cuda_backend_device_count() {
  static const int count = query_device_count();
  return count;
}

void register_cuda_backend() {
  if (cuda_backend_device_count() == 0) return;
  register_allocator(DeviceType::CUDA, &cuda::caching_allocator());
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
                                             .empty_cache = cuda::release_cached_blocks,
                                             .cached_bytes = cuda::cached_block_bytes});
}

}  // namespace lg
