#include "dropout.h"

#include "arithmetic.h"
#include "factory.h"
#include "op_support.h"
#include "registry.h"
#include "samples.h"

namespace lg {

Tensor dropout(const Tensor& x, double p, bool train) {
  detail::check_defined(x, "dropout");
  LG_CHECK(p >= 0 && p <= 1, "dropout: probability has to be between 0 and 1, got ", p);
  if (!train || p == 0) return x;
  LG_CHECK(is_floating(x.dtype()), "dropout: expected a floating-point input, got ", x.describe());
  if (p == 1) return x * 0.0;
  Tensor mask;
  {
    NoGradGuard no_grad;
    Tensor u = rand(x.shape(), {.dtype = x.dtype(), .device = x.device()});
    mask = lt(u, 1 - p).to(x.dtype()) * (1.0 / (1 - p));
  }
  // mul saves the mask, so the backward multiplies by the same mask.
  return x * mask;
}

}  // namespace lg

// ---- registry entries ----------------------------------------------------------

namespace lg {

void register_dropout_ops() {
  using samples::leaf;
  using samples::strided_leaf;
  // Every evaluation must draw the same mask for the finite differences: the
  // call seeds the generator, and restores its state so other draws are unaffected.
  register_op({"dropout",
               [](const std::vector<Tensor>& in) {
                 RngState state = get_rng_state();
                 manual_seed(77);
                 Tensor out = dropout(in[0], 0.4, /*train=*/true);
                 set_rng_state(state);
                 return out;
               },
               [] {
                 return std::vector<OpSample>{
                     {"[4,5]", {leaf({4, 5})}},
                     {"non-contiguous [2,3,4]", {strided_leaf({2, 3, 4})}}};
               }});
}

}  // namespace lg
