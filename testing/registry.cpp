#include "registry.h"

#include <deque>
#include <mutex>

namespace lg {

// Each op family registers its own entries, beside its forward and backward.
void register_arithmetic_ops();
void register_reduction_ops();
void register_linalg_ops();
void register_view_ops();
void register_activation_ops();
void register_elementwise_select_ops();
void register_sampling_ops();
void register_normalization_ops();
void register_indexing_ops();
void register_dropout_ops();
void register_conv_ops();
void register_pool_ops();
void register_attention_ops();
void register_softmax_ops();
void register_loss_ops();

namespace {
// A deque, so that a pointer from find_op stays valid when entries are added.
std::deque<OpInfo>& registry() {
  static std::deque<OpInfo> ops;
  return ops;
}
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
void register_builtins_once() {
  static std::once_flag once;
  std::call_once(once, register_builtin_ops);
}
}  // namespace

void register_op(OpInfo info) {
  std::lock_guard<std::mutex> lock(registry_mutex());
  for (const OpInfo& op : registry())
    LG_CHECK(op.name != info.name, "register_op: an op named '", info.name,
             "' is already registered");
  registry().push_back(std::move(info));
}

std::vector<const OpInfo*> op_registry() {
  register_builtins_once();
  std::lock_guard<std::mutex> lock(registry_mutex());
  std::vector<const OpInfo*> ops;
  for (const OpInfo& op : registry()) ops.push_back(&op);
  return ops;
}

const OpInfo* find_op(const std::string& name) {
  register_builtins_once();
  std::lock_guard<std::mutex> lock(registry_mutex());
  for (const OpInfo& op : registry())
    if (op.name == name) return &op;
  return nullptr;
}

void register_builtin_ops() {
  register_arithmetic_ops();
  register_reduction_ops();
  register_linalg_ops();
  register_view_ops();
  register_activation_ops();
  register_elementwise_select_ops();
  register_sampling_ops();
  register_normalization_ops();
  register_indexing_ops();
  register_dropout_ops();
  register_conv_ops();
  register_pool_ops();
  register_attention_ops();
  register_softmax_ops();
  register_loss_ops();
}

}  // namespace lg
