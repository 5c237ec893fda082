// Library start-up: registers the backends' kernels and the op registry,
// once, explicitly (no static initialisers a static library could drop).
#include "runtime.h"

#include <mutex>

#include "backends/cpu/cpu_backend.h"
#include "core/kernels.h"
#include "ops/registry.h"
#ifdef LG_WITH_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

namespace lg {

namespace detail {
void ensure_runtime() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_cpu_backend();
#ifdef LG_WITH_CUDA
    register_cuda_backend();
#endif
    register_builtin_ops();
  });
}
}  // namespace detail

bool cuda_is_available() { return cuda_device_count() > 0; }

int cuda_device_count() {
#ifdef LG_WITH_CUDA
  return cuda_backend_device_count();
#else
  return 0;
#endif
}

}  // namespace lg
