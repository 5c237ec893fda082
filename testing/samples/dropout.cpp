// Op-registry entries of the dropout ops (ops/dropout.cpp): how to call each op
// and the sample inputs that the generic gradcheck test and lg-gradcheck use.
#include <lasergrad/lasergrad.h>

#include <functional>

#include "testing/registry.h"
#include "testing/samples.h"

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
