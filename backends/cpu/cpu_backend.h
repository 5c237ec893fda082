// The CPU backend: OpenBLAS (its OpenMP build) and OpenMP kernels sharing one
// thread pool. register_cpu_backend() fills core's kernel tables; it is
// called once from library start-up.
#pragma once
#include <cstddef>

namespace lg {

void register_cpu_backend();

// Threads for CPU kernels and OpenBLAS together (one OpenMP pool).
// Safe to call while other threads run kernels, matmuls included: it waits
// for the BLAS calls in flight to finish and holds new ones back while it
// changes OpenBLAS's count. What it sets follows OpenMP's rule: the kernel
// thread count is the calling thread's own (other std::threads keep theirs,
// OMP_NUM_THREADS or the core count unless they call it too), while
// OpenBLAS's count is one for the whole process, the last one set.
void set_num_threads(int n);
int get_num_threads();  // the calling thread's kernel thread count
// OpenBLAS's threading model: 0 sequential, 1 pthreads, 2 OpenMP (ours is 2).
int openblas_parallel_mode();

// Freed CPU blocks of 1 MiB or more are cached for reuse (up to 1 GiB):
// empty_cache() returns them to the system; cpu_cached_bytes() says how much.
void empty_cache();
size_t cpu_cached_bytes();

}  // namespace lg
