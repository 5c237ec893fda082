// The op registry, in the spirit of PyTorch's OpInfo: each differentiable op
// registers its name, how to call it, and a generator of sample inputs
// (several shapes, broadcasting, non-contiguous inputs). The generic test and
// the lg-gradcheck tool gradcheck every entry in float64.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "../core/tensor.h"

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
  bool fused_backward = false;  // its backward is a fused kernel (see design.md)
};

void register_op(OpInfo info);
const std::vector<OpInfo>& op_registry();
const OpInfo* find_op(const std::string& name);  // nullptr if absent

// Registers the built-in ops; called once from library start-up.
void register_builtin_ops();

}  // namespace lg
