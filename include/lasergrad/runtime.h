// Library start-up, devices and CPU threads: what is available at run time.
#pragma once
#include <cstddef>

namespace lg {

// Registers the backends' kernels and allocators and wires the layers
// together (explicit, idempotent, thread-safe). Every program that links
// lasergrad calls it before main() and again lazily at the first kernel or
// allocator lookup, so calling it yourself is only needed from code that runs
// during static initialisation.
void init();

// True when the CUDA backend is built and a CUDA device is usable (false,
// not an error, when the driver or device is missing).
bool cuda_is_available();
int cuda_device_count();

// Threads for CPU kernels and OpenBLAS together (one OpenMP pool).
void set_num_threads(int n);
int get_num_threads();
// OpenBLAS's threading model: 0 sequential, 1 pthreads, 2 OpenMP (ours is 2).
int openblas_parallel_mode();

// Freed CPU blocks of 64 KiB or more are cached for reuse (up to 1 GiB):
// empty_cache() returns them to the system; cpu_cached_bytes() says how much.
void empty_cache();
size_t cpu_cached_bytes();

}  // namespace lg
