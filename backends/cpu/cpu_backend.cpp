#include "cpu_backend.h"

#include <cblas.h>
#include <omp.h>

#include "blas_threads.h"
#include "core/hooks.h"
#include "openblas_core.h"
#include "cpu_allocator.h"
#include "cpu_isa.h"
#include "cpu_kernels.h"

namespace lg {

cpu::BlasThreadsLock& cpu::blas_threads_lock() {
  static BlasThreadsLock lock;
  return lock;
}

namespace {

cpu::CachingCpuAllocator& cpu_allocator() {
  static cpu::CachingCpuAllocator allocator;
  return allocator;
}

}  // namespace

void register_cpu_backend() {
  cpu::select_openblas_core();  // before any BLAS call
  cpu::active_isa();  // a bad LG_CPU_ISA is an lg::Error here, not inside a kernel
  register_allocator(DeviceType::CPU, &cpu_allocator());
  for (DType dtype : {kFloat32, kFloat64, kInt64, kBool}) {
    KernelTable table;
    cpu::fill_elementwise_kernels(table, dtype);
    cpu::fill_reduce_kernels(table, dtype);
    cpu::fill_blas_kernels(table, dtype);
    cpu::fill_attention_kernels(table, dtype);
    cpu::fill_softmax_kernels(table, dtype);
    cpu::fill_loss_kernels(table, dtype);
    cpu::fill_elementwise_select_kernels(table, dtype);
    cpu::fill_sampling_kernels(table, dtype);
    cpu::fill_normalization_kernels(table, dtype);
    cpu::fill_indexing_kernels(table, dtype);
    cpu::fill_conv_kernels(table, dtype);
    cpu::fill_optimizer_kernels(table, dtype);
    register_kernels(DeviceType::CPU, dtype, table);
  }
}

void set_num_threads(int n) {
  LG_CHECK(n >= 1, "set_num_threads: need at least 1 thread, got ", n);
  omp_set_num_threads(n);
  // Waits for BLAS kernels in flight on other threads (see blas_threads.h).
  std::unique_lock<cpu::BlasThreadsLock> no_blas_call_in_flight(cpu::blas_threads_lock());
  openblas_set_num_threads(n);
}

int get_num_threads() { return omp_get_max_threads(); }

int openblas_parallel_mode() { return openblas_get_parallel(); }

const char* openblas_core() {
  detail::ensure_initialized();  // start-up may switch the kernel set first
  return openblas_get_corename();
}

void empty_cache() { cpu_allocator().release_cached(); }
size_t cpu_cached_bytes() { return cpu_allocator().cached_bytes(); }

}  // namespace lg
