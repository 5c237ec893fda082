// Library start-up, devices and CPU threads: what is available at run time.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/device.h"

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
// Safe to call while other threads run kernels, matmuls included: it waits
// for the BLAS calls in flight to finish and holds new ones back while it
// changes OpenBLAS's count. What it sets follows OpenMP's rule: the kernel
// thread count is the calling thread's own (other std::threads keep theirs,
// OMP_NUM_THREADS or the core count unless they call it too), while
// OpenBLAS's count is one for the whole process, the last one set.
void set_num_threads(int n);
int get_num_threads();  // the calling thread's kernel thread count
// Whether float32 matrix products on CUDA (matmul, linear, and the
// convolutions built on them) may round their operands to TF32 on tensor
// cores: faster on Ampere and newer GPUs, but products keep about 3 decimal
// digits instead of 7. Off by default (PyTorch's
// torch.backends.cuda.matmul.allow_tf32); process-wide; the CPU ignores it.
void set_allow_tf32(bool allow);
bool allow_tf32();
// OpenBLAS's threading model: 0 sequential, 1 pthreads, 2 OpenMP (ours is 2).
int openblas_parallel_mode();
// The kernel set OpenBLAS runs, e.g. "SkylakeX" or "Haswell". Where OpenBLAS
// does not know an Intel CPU with AVX2 and falls back to its SSE3 kernels
// ("Prescott"), lasergrad's start-up switches it to its AVX-512 or AVX2
// ones, unless OPENBLAS_CORETYPE (the user's choice) or LG_KEEP_OPENBLAS_CORE
// is set.
const char* openblas_core();

// How idle OpenMP threads wait, for benchmark reports: "GOMP_SPINCOUNT=10000
// (lasergrad's start-up)" where lasergrad chose it (executables linking
// lasergrad start with a short spin, so that a busy machine slows a step
// gracefully), "OMP_WAIT_POLICY=passive (environment)" where the user set
// OMP_WAIT_POLICY or GOMP_SPINCOUNT (or LG_KEEP_OMP_WAIT), else "libgomp's
// default".
std::string openmp_wait_policy();

// The vector-code path the CPU kernels run, picked at run time for the CPU at
// hand: "avx512" (x86-64-v4), "avx2" (x86-64-v3) or "baseline" (x86-64, and
// every other architecture). set_cpu_isa chooses a lower one ("best" for the
// default again), for comparisons and tests; the environment variable
// LG_CPU_ISA does the same for a whole program. Naming a path the CPU lacks,
// or an unknown name, is an lg::Error that lists what it supports.
// OpenBLAS picks its own kernels (openblas_core(), OPENBLAS_CORETYPE).
const char* cpu_isa();
void set_cpu_isa(const std::string& name);
std::vector<std::string> supported_cpu_isas();  // best first, "baseline" last

// The CPU's model name ("AMD EPYC 7B13", from /proc/cpuinfo; "unknown CPU"
// where it does not say), and the float32 matrix-product rate of this machine
// at the current thread count: GFLOP/s of an n x n x n matmul, the best of
// `runs` after one untimed (on a shared or throttled machine single runs vary
// by 2x). Benchmarks quote their GEMM efficiency against it. On a CUDA device
// the product runs there (cuBLAS), timed between synchronisations.
std::string cpu_name();
double measure_sgemm_gflops(int64_t n = 2048, int runs = 5, Device device = Device::cpu());

// Freed CPU blocks of 64 KiB or more are cached for reuse (up to 1 GiB):
// empty_cache() returns them to the system; cpu_cached_bytes() says how much.
void empty_cache();
size_t cpu_cached_bytes();

}  // namespace lg
