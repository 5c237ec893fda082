// The CPU backend: OpenBLAS (its OpenMP build) and OpenMP kernels sharing one
// thread pool. register_cpu_backend() fills core's kernel tables; lg::init
// calls it once. Its user-facing controls (threads, the allocator's cache) are
// declared in <lasergrad/runtime.h>.
#pragma once
#include <lasergrad/runtime.h>

namespace lg {

void register_cpu_backend();

}  // namespace lg
