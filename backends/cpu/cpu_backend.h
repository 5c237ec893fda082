// The CPU backend: OpenBLAS (its OpenMP build) and OpenMP kernels sharing one
// thread pool. register_cpu_backend() fills core's kernel tables; it is
// called once from library start-up.
#pragma once

namespace lg {

void register_cpu_backend();

// Threads for CPU kernels and OpenBLAS together (one OpenMP pool).
void set_num_threads(int n);
int get_num_threads();
// OpenBLAS's threading model: 0 sequential, 1 pthreads, 2 OpenMP (ours is 2).
int openblas_parallel_mode();

}  // namespace lg
