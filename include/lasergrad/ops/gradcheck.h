// Gradient checking: central finite differences in float64 against the
// analytic vector-Jacobian products autograd computes, for every input that
// requires grad and every output element.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "../core/tensor.h"

namespace lg {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0;
  double max_rel_error = 0;
  int worst_input = -1;      // which input holds the worst element
  int64_t worst_index = -1;  // its flat index in that input
  double numeric = 0;        // the Jacobian entry at the worst element
  double analytic = 0;
  std::string message;
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;
using GradcheckMultiFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

// Checks d fn / d inputs[i] for each input with requires_grad (they must be
// float64 CPU tensors). Inputs are perturbed in place and restored.
GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          GradcheckOptions options = {});
GradcheckResult gradcheck(const GradcheckMultiFn& fn, const std::vector<Tensor>& inputs,
                          GradcheckOptions options = {});

// Second order: checks the gradient of the backward pass (with a fixed random
// output gradient) by gradcheck, through create_graph. First checks that the
// create_graph backward (a fused op's composite formula) gives the plain
// backward's gradient, since the finite differences only see the former.
// Pass aliased inputs (one tensor in several slots) to check that each slot
// gets its own gradient.
GradcheckResult gradgradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                              GradcheckOptions options = {});

}  // namespace lg
