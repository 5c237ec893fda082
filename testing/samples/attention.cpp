// Op-registry entries of the attention ops (ops/attention.cpp): how to call each op
// and the sample inputs that the generic gradcheck test and lg-gradcheck use.
#include <lasergrad/lasergrad.h>

#include <functional>

#include "testing/registry.h"
#include "testing/samples.h"

namespace lg {

void register_attention_ops() {
  using samples::leaf;
  using In = std::vector<Tensor>;
  // Small shapes: Tq != Tk, a bool mask with a fully masked row, an additive
  // mask broadcast over batch and heads, q laid out as [B,T,H,d] (non-contiguous).
  auto make_samples = [] {
    Tensor keep = from_vector(std::vector<bool>{true, true, false, true,  //
                                                false, false, false, false,  //
                                                true, false, true, true},
                              {1, 1, 3, 4});
    Tensor additive = samples::constant({3, 4}, -1, 1);
    Tensor q_bthd = leaf({1, 3, 2, 2}).transpose(1, 2).detach().requires_grad_(true);
    Tensor x = leaf({1, 2, 3, 2});  // one tensor as q, k and v: each slot needs its own gradient
    return std::vector<OpSample>{
        {"self-attention, x as q, k and v", {x, x, x}},
        {"plain [1,2,3,2] x [1,2,4,2]", {leaf({1, 2, 3, 2}), leaf({1, 2, 4, 2}), leaf({1, 2, 4, 2})}},
        {"bool mask with an empty row", {leaf({1, 1, 3, 2}), leaf({1, 1, 4, 2}), leaf({1, 1, 4, 2}), keep}},
        {"additive mask, q non-contiguous", {q_bthd, leaf({1, 2, 4, 2}), leaf({1, 2, 4, 2}), additive}},
    };
  };
  auto causal_samples = [] {
    Tensor x = leaf({1, 1, 4, 2});
    return std::vector<OpSample>{
        {"causal self-attention, x as q, k and v", {x, x, x}},
        {"causal, Tq < Tk", {leaf({2, 1, 3, 2}), leaf({2, 1, 4, 2}), leaf({2, 1, 4, 2}, -2, 2)}},
        {"causal, Tq > Tk (first rows see no key)",
         {leaf({1, 2, 4, 2}), leaf({1, 2, 2, 2}), leaf({1, 2, 2, 2})}},
        {"causal with a bool mask",
         {leaf({1, 1, 3, 2}), leaf({1, 1, 3, 2}), leaf({1, 1, 3, 2}),
          from_vector(std::vector<bool>{true, false, true}, {3})}},
    };
  };
  auto call = [](bool laser, bool causal) {
    return [laser, causal](const In& in) {
      AttentionOptions o{.causal = causal, .mask = in.size() > 3 ? in[3] : Tensor()};
      return laser ? laser_attention(in[0], in[1], in[2], o)
                   : scaled_dot_product_attention(in[0], in[1], in[2], o);
    };
  };
  // fused_backward: double backward runs the composite formula.
  register_op({"scaled_dot_product_attention", call(false, false), make_samples, true, true});
  register_op({"scaled_dot_product_attention.causal", call(false, true), causal_samples, true, true});
  register_op({"laser_attention", call(true, false), make_samples, true, true});
  register_op({"laser_attention.causal", call(true, true), causal_samples, true, true});
}

}  // namespace lg
