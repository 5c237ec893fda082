#include "cpu_backend.h"

#include <cblas.h>
#include <omp.h>

#include <cstdlib>
#include <new>

#include "cpu_kernels.h"

namespace lg {
namespace {

// 64-byte aligned host memory (a cache line; what AVX-512 loads like best).
class CpuAllocator : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    void* p = std::aligned_alloc(64, (nbytes + 63) / 64 * 64);
    if (!p) throw Error("cpu allocator: out of memory allocating " + std::to_string(nbytes) + " bytes");
    return p;
  }
  void deallocate(void* ptr, size_t) override { std::free(ptr); }
};

}  // namespace

void register_cpu_backend() {
  static CpuAllocator allocator;
  register_allocator(DeviceType::CPU, &allocator);
  for (DType dtype : {kFloat32, kFloat64, kInt64, kBool}) {
    KernelTable table;
    cpu::fill_elementwise_kernels(table, dtype);
    cpu::fill_reduce_kernels(table, dtype);
    cpu::fill_blas_kernels(table, dtype);
    cpu::fill_elementwise_select_kernels(table, dtype);
    cpu::fill_sampling_kernels(table, dtype);
    cpu::fill_normalization_kernels(table, dtype);
    cpu::fill_indexing_kernels(table, dtype);
    cpu::fill_conv_kernels(table, dtype);
    cpu::fill_attention_kernels(table, dtype);
    cpu::fill_softmax_kernels(table, dtype);
    cpu::fill_loss_kernels(table, dtype);
    register_kernels(DeviceType::CPU, dtype, table);
  }
}

void set_num_threads(int n) {
  LG_CHECK(n >= 1, "set_num_threads: need at least 1 thread, got ", n);
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

int openblas_parallel_mode() { return openblas_get_parallel(); }

}  // namespace lg
