#include "hooks.h"

#include <atomic>

namespace lg::detail {
namespace {
OpHooks installed_hooks;
std::atomic<bool> hooks_ready{false};
std::atomic<void (*)()> initializer{nullptr};
}  // namespace

void install_op_hooks(const OpHooks& hooks) {
  LG_CHECK(hooks.add && hooks.add_inplace && hooks.clone && hooks.to_dtype && hooks.fill_inplace &&
               hooks.all_finite,
           "install_op_hooks: every hook must be set");
  if (hooks_ready.load(std::memory_order_acquire)) return;  // start-up runs once; keep the first
  installed_hooks = hooks;
  hooks_ready.store(true, std::memory_order_release);
}

const OpHooks& op_hooks(const char* what) {
  if (!hooks_ready.load(std::memory_order_acquire)) ensure_initialized();
  LG_CHECK(hooks_ready.load(std::memory_order_acquire), what,
           ": lasergrad's ops are not initialised (link the lasergrad library, not its core "
           "alone, and call lg::init() if this runs during static initialisation)");
  return installed_hooks;
}

void set_initializer(void (*initialize)()) { initializer.store(initialize); }

void ensure_initialized() {
  if (void (*f)() = initializer.load()) f();
}

}  // namespace lg::detail
