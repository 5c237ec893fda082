// Op-registry entries of the softmax ops (ops/softmax.cpp): how to call each op
// and the sample inputs that the generic gradcheck test and lg-gradcheck use.
#include <lasergrad/lasergrad.h>

#include <functional>

#include "testing/registry.h"
#include "testing/samples.h"

namespace lg {

void register_softmax_ops() {
  using samples::leaf;
  using samples::strided_leaf;
  auto constant_dim = [](int64_t d) { return full({}, d, {.dtype = kInt64}); };
  // Each sample is {input, dim}: the last dim (the kernel's row path), inner
  // dims and the first (its strip path), size-1 and non-contiguous inputs.
  auto samples = [constant_dim] {
    return std::vector<OpSample>{
        {"[3,5] dim -1", {leaf({3, 5}, -3, 3), constant_dim(-1)}},
        {"[2,3,4] dim 1", {leaf({2, 3, 4}, -3, 3), constant_dim(1)}},
        {"[4,3] dim 0", {leaf({4, 3}, -3, 3), constant_dim(0)}},
        {"[3,1,4] dim 1 (size 1)", {leaf({3, 1, 4}, -3, 3), constant_dim(1)}},
        {"non-contiguous [2,3,4] dim -1", {strided_leaf({2, 3, 4}, -3, 3), constant_dim(-1)}},
        {"non-contiguous [4,5] dim 0", {strided_leaf({4, 5}, -3, 3), constant_dim(0)}},
    };
  };
  register_op(
      {.name = "softmax",
       .call = [](const std::vector<Tensor>& in) { return softmax(in[0], in[1].item<int64_t>()); },
       .samples = samples,
       .fused_backward = true});
  register_op(
      {.name = "log_softmax",
       .call =
           [](const std::vector<Tensor>& in) { return log_softmax(in[0], in[1].item<int64_t>()); },
       .samples = samples,
       .fused_backward = true});
}

}  // namespace lg
