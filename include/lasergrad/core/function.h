// Custom differentiable ops: derive from Function<Derived> with static
// forward(Context&, args...) and backward(Context&, grad(s)). forward runs
// under NoGradGuard; backward returns one gradient per Tensor argument of
// forward (an undefined Tensor for "none"); the engine checks their count,
// shape and device and converts their dtype to the input's.
#pragma once
#include <algorithm>
#include <any>
#include <map>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "autograd.h"

namespace lg {

class Context {
 public:
  // Saves tensors for backward (inputs or outputs of forward).
  void save(const std::vector<Tensor>& tensors) { to_save_ = tensors; }
  void save_for_backward(const std::vector<Tensor>& tensors) { save(tensors); }
  // The i-th saved tensor (checked for in-place modification in backward).
  const Tensor& saved(size_t i) const {
    const auto& list = unpacked_.empty() ? to_save_ : unpacked_;
    LG_CHECK(i < list.size(), "Context::saved: index ", i, " but ", list.size(),
             " tensors were saved");
    return list[i];
  }
  size_t num_saved() const { return unpacked_.empty() ? to_save_.size() : unpacked_.size(); }
  bool needs_input_grad(size_t i) const { return i < needs_grad_.size() && needs_grad_[i]; }
  // Non-tensor values for backward: ctx.saved_data["key"] = 3;
  std::map<std::string, std::any> saved_data;

 private:
  template <class>
  friend class CustomFunctionNode;
  template <class>
  friend struct Function;
  std::vector<Tensor> to_save_;
  std::vector<SavedTensor> saved_;
  std::vector<Tensor> unpacked_;
  std::vector<bool> needs_grad_;
};

template <class Derived>
class CustomFunctionNode : public Node {
 public:
  CustomFunctionNode() : Node(typeid(Derived).name()) {}
  Context ctx;
  bool multi_output = false;

 protected:
  std::vector<Tensor> apply(std::vector<Tensor> grad_outputs) override {
    auto self = shared_from_this();
    ctx.unpacked_.clear();
    for (const SavedTensor& s : ctx.saved_) ctx.unpacked_.push_back(s.unpack(self));
    std::vector<Tensor> grads;
    if constexpr (std::is_invocable_v<decltype(&Derived::backward), Context&,
                                      std::vector<Tensor>>) {
      grads = Derived::backward(ctx, std::move(grad_outputs));
    } else {
      grads = Derived::backward(ctx, grad_outputs[0]);
    }
    ctx.unpacked_.clear();
    // The engine checks each gradient's shape, dtype and device, as for
    // every node; the count is checked here to name forward's arguments.
    LG_CHECK(grads.size() == input_meta().size(), name(), "::backward returned ", grads.size(),
             " gradients, but forward took ", input_meta().size(), " tensor arguments");
    return grads;
  }
  void release_saved() override {
    ctx.saved_.clear();
    ctx.to_save_.clear();
  }
};

template <class Derived>
struct Function {
  template <typename... Args>
  static auto apply(Args&&... args) {
    std::vector<Tensor> tensor_args;
    auto collect = [&](const auto& a) {
      if constexpr (std::is_same_v<std::decay_t<decltype(a)>, Tensor>) tensor_args.push_back(a);
    };
    (collect(args), ...);

    auto node = std::make_shared<CustomFunctionNode<Derived>>();
    Context& ctx = node->ctx;
    for (const Tensor& t : tensor_args) ctx.needs_grad_.push_back(t.requires_grad());
    auto result = [&] {
      NoGradGuard no_grad;
      return Derived::forward(ctx, std::forward<Args>(args)...);
    }();
    if (!any_requires_grad(tensor_args)) {
      ctx.to_save_.clear();
      return result;
    }
    collect_next_edges(*node, tensor_args);
    std::vector<Tensor*> outputs;
    if constexpr (std::is_same_v<decltype(result), Tensor>) {
      outputs.push_back(&result);
    } else {
      for (Tensor& t : result) outputs.push_back(&t);
    }
    // Outputs share storage with what forward returned but are new handles,
    // so that forward's own tensors are never relinked.
    for (Tensor* out : outputs) *out = out->detach();
    set_history(outputs, node);
    // A saved output is stored without its grad_fn (no reference cycle).
    auto as_output = [&](const Tensor& t) -> Tensor* {
      for (Tensor* out : outputs)
        if (t.defined() && t.storage() == out->storage() && t.shape() == out->shape() &&
            t.strides() == out->strides() && t.storage_offset() == out->storage_offset())
          return out;
      return nullptr;
    };
    for (const Tensor& t : ctx.to_save_) {
      Tensor* out = as_output(t);
      ctx.saved_.emplace_back(out ? *out : t, out != nullptr);
    }
    ctx.to_save_.clear();
    return result;
  }
};

}  // namespace lg
