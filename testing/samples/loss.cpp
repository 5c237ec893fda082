// Op-registry entries of the loss ops (ops/loss.cpp): how to call each op
// and the sample inputs that the generic gradcheck test and lg-gradcheck use.
#include <lasergrad/lasergrad.h>

#include <functional>

#include "testing/registry.h"
#include "testing/samples.h"

namespace lg {

void register_loss_ops() {
  using samples::leaf;
  using samples::strided_leaf;
  auto labels = [](std::vector<int64_t> v, const Shape& shape) { return from_vector(v, shape); };
  // {scores, targets}: [N,C], leading dims with an ignored target, non-contiguous scores.
  auto class_samples = [labels] {
    return std::vector<OpSample>{
        {"[4,5]", {leaf({4, 5}, -2, 2), labels({1, 0, 4, 2}, {4})}},
        {"[2,3,5] with ignore_index",
         {leaf({2, 3, 5}, -2, 2), labels({1, -100, 4, 0, 2, 2}, {2, 3})}},
        {"non-contiguous [3,4]", {strided_leaf({3, 4}, -2, 2), labels({3, 0, 1}, {3})}},
    };
  };
  using In = std::vector<Tensor>;
  register_op({.name = "cross_entropy",
               .call = [](const In& in) { return cross_entropy(in[0], in[1]); },
               .samples = class_samples,
               .fused_backward = true});
  register_op({.name = "cross_entropy.smoothing",
               .call =
                   [](const In& in) {
                     return cross_entropy(in[0], in[1],
                                          {.label_smoothing = 0.2, .reduction = Reduction::Sum});
                   },
               .samples = class_samples,
               .fused_backward = true});
  register_op(
      {.name = "cross_entropy.none",
       .call =
           [](const In& in) { return cross_entropy(in[0], in[1], {.reduction = Reduction::None}); },
       .samples = class_samples,
       .fused_backward = true});
  register_op({.name = "nll_loss",
               .call = [](const In& in) { return nll_loss(in[0], in[1]); },
               .samples = class_samples});
  register_op(
      {.name = "nll_loss.none",
       .call = [](const In& in) { return nll_loss(in[0], in[1], {.reduction = Reduction::None}); },
       .samples = class_samples});
  auto pair_samples = [] {
    return std::vector<OpSample>{
        {"[3,4]", {leaf({3, 4}), leaf({3, 4})}},
        {"broadcast [2,3,4] - [4]", {leaf({2, 3, 4}), leaf({4})}},
        {"non-contiguous [3,4]", {strided_leaf({3, 4}), leaf({3, 1})}},
    };
  };
  register_op({.name = "mse_loss",
               .call = [](const In& in) { return mse_loss(in[0], in[1]); },
               .samples = pair_samples});
  register_op({.name = "mse_loss.none",
               .call = [](const In& in) { return mse_loss(in[0], in[1], Reduction::None); },
               .samples = pair_samples});
  // {log_probs [T,N,C], targets, input_lengths, target_lengths}: a repeated
  // label (which needs a blank between), a shorter second input, an empty target.
  register_op({.name = "ctc_loss",
               .call = [](const In& in) { return ctc_loss(in[0], in[1], in[2], in[3]); },
               .samples =
                   [labels] {
                     return std::vector<OpSample>{
                         {"[6,2,4]",
                          {leaf({6, 2, 4}, -2.5, -0.5), labels({1, 1, 2, 3, 2, 0}, {2, 3}),
                           labels({6, 4}, {2}), labels({3, 2}, {2})}},
                         {"non-contiguous [5,3,3], an empty target",
                          {strided_leaf({5, 3, 3}, -2.5, -0.5), labels({1, 2, 2, 1, 0, 0}, {3, 2}),
                           labels({5, 5, 3}, {3}), labels({2, 2, 0}, {3})}},
                     };
                   },
               // Its backward is the fused alpha-beta kernel with no composite.
               .check_gradgrad = false,
               .fused_backward = true});
}

}  // namespace lg
