// Library start-up: registers the backends' kernels and allocators and
// installs the ops layer's hooks into core, once and explicitly. This folder
// is the top of the library: it depends on every layer, and none depends on it.
#include <lasergrad/runtime.h>

#include <mutex>

#include "backends/cpu/cpu_backend.h"
#include "core/hooks.h"
#include "ops/core_hooks.h"
#ifdef LG_WITH_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

namespace lg {

void init() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_cpu_backend();
#ifdef LG_WITH_CUDA
    register_cuda_backend();
#endif
    detail::install_ops_into_core();
  });
}

bool cuda_is_available() { return cuda_device_count() > 0; }

int cuda_device_count() {
#ifdef LG_WITH_CUDA
  return cuda_backend_device_count();
#else
  return 0;
#endif
}

}  // namespace lg

// Arms core's lazy start-up before main(), so that programs need not call
// lg::init() themselves. The lasergrad target exports the link option
// --undefined=lg_runtime_anchor, so this object is linked into every program
// even from a static archive, where an unreferenced member would be dropped
// together with its initialiser.
extern "C" {
extern const int lg_runtime_anchor;
const int lg_runtime_anchor = (lg::detail::set_initializer(&lg::init), 1);
}
