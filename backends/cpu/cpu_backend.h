// The CPU backend: OpenBLAS (its OpenMP build) and OpenMP kernels sharing one
// thread pool. register_cpu_backend() fills core's kernel tables; it is
// called once from library start-up.
#pragma once
#include <cstddef>

namespace lg {

void register_cpu_backend();

// Threads for CPU kernels and OpenBLAS together (one OpenMP pool).
void set_num_threads(int n);
int get_num_threads();
// OpenBLAS's threading model: 0 sequential, 1 pthreads, 2 OpenMP (ours is 2).
int openblas_parallel_mode();

// Freed CPU blocks of 1 MiB or more are cached for reuse (up to 1 GiB):
// empty_cache() returns them to the system; cpu_cached_bytes() says how much.
void empty_cache();
size_t cpu_cached_bytes();

}  // namespace lg
