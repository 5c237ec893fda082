// Op-registry entries of the activation ops (ops/activation.cpp): how to call each op
// and the sample inputs that the generic gradcheck test and lg-gradcheck use.
#include <lasergrad/lasergrad.h>

#include <functional>

#include "testing/registry.h"
#include "testing/samples.h"

namespace lg {
namespace {
using samples::leaf;
using samples::signed_leaf;
using samples::strided_leaf;

void add_activation(const char* name, std::function<Tensor(const Tensor&)> fn, double lo = -3,
                    double hi = 3, bool fused_backward = false) {
  register_op({name, [fn](const std::vector<Tensor>& in) { return fn(in[0]); },
               [lo, hi] {
                 return std::vector<OpSample>{
                     {"[3,4]", {leaf({3, 4}, lo, hi)}},
                     {"non-contiguous [2,3,4]", {strided_leaf({2, 3, 4}, lo, hi)}},
                     {"0-d", {leaf({}, lo, hi)}},
                 };
               },
               true, fused_backward});
}
}  // namespace

void register_activation_ops() {
  add_activation("tanh", [](const Tensor& x) { return tanh(x); });
  add_activation("sigmoid", [](const Tensor& x) { return sigmoid(x); });
  // gelu's backward is a fused kernel; double backward runs its composite.
  add_activation(
      "gelu", [](const Tensor& x) { return gelu(x); }, -3, 3, true);
  add_activation(
      "gelu.tanh", [](const Tensor& x) { return gelu(x, GeluApproximate::Tanh); }, -3, 3, true);
  add_activation("silu", [](const Tensor& x) { return silu(x); });
  add_activation("softplus", [](const Tensor& x) { return softplus(x); });
  // beta 2, threshold 3: both branches (x > 1.5 is passed through) get checked.
  add_activation("softplus.beta", [](const Tensor& x) { return softplus(x, 2.0, 3.0); });
  add_activation("erf", [](const Tensor& x) { return erf(x); });
  // relu's kink at 0: the samples keep away from it.
  register_op(
      {"relu", [](const std::vector<Tensor>& in) { return relu(in[0]); },
       [] {
         return std::vector<OpSample>{
             {"[3,4] away from 0", {signed_leaf({3, 4}, 0.1, 2)}},
             {"non-contiguous [2,3,4] away from 0",
              {signed_leaf({4, 3, 2}, 0.1, 2).detach().permute({2, 1, 0}).requires_grad_()}},
             {"0-d", {signed_leaf({}, 0.1, 2)}},
         };
       }});
}

}  // namespace lg
