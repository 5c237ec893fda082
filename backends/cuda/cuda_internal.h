// Internal to the CUDA backend: turning CUDA errors into lg::Error, the device
// scope every kernel entry opens, and the parts of the kernel table each file
// fills.
#pragma once
#include <cuda_runtime.h>
#include <lasergrad/core/storage.h>

#include <initializer_list>

#include "../../core/kernels.h"

namespace lg::cuda {

// Throws lg::Error "op: call failed: <CUDA's message>" unless status is cudaSuccess.
void check(cudaError_t status, const char* op, const char* call);

// Checks that the tensors live on cuda:0 and makes it the current device for the
// scope. The backend runs on cuda:0 only: core's Allocator is not told which
// device a storage is for, so memory cannot be placed on another one yet.
class DeviceScope {
 public:
  DeviceScope(const char* op, std::initializer_list<const Tensor*> tensors);
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
};

// The process-wide caching allocator for device memory.
Allocator& caching_allocator();
// Gives its cached free blocks back to the driver (waits for the device), and
// the bytes those blocks hold: lg::cuda::empty_cache and memory_stats().cached.
void release_cached_blocks();
size_t cached_block_bytes();

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
