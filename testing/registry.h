// The op registry, in the spirit of PyTorch's OpInfo: each differentiable op
// registers its name, how to call it, and a generator of sample inputs
// (several shapes, broadcasting, non-contiguous inputs). The generic test and
// the lg-gradcheck tool gradcheck every entry in float64.
#pragma once
#include <lasergrad/core/tensor.h>

#include <functional>
#include <string>
#include <vector>

namespace lg {

struct OpSample {
  std::string description;     // e.g. "broadcast [3,1] + [4]"
  std::vector<Tensor> inputs;  // float64; those with requires_grad are checked
};

struct OpInfo {
  std::string name;
  std::function<Tensor(const std::vector<Tensor>&)> call;
  std::function<std::vector<OpSample>()> samples;
  bool check_gradgrad = true;   // double backward is supported and checked
  bool fused_backward = false;  // its backward is a fused kernel (docs/design.md)
};

// Thread-safe. Entries are never removed or moved, so the pointers that
// op_registry() and find_op() return stay valid for the program's life.
void register_op(OpInfo info);
// Every entry in registration order (the built-in ops are registered on first use).
std::vector<const OpInfo*> op_registry();
const OpInfo* find_op(const std::string& name);  // nullptr if absent

// Registers the built-in ops (once, from the first op_registry or find_op).
void register_builtin_ops();

}  // namespace lg
