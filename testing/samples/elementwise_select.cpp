// Op-registry entries of the elementwise select ops (ops/elementwise_select.cpp): how to call each
// op and the sample inputs that the generic gradcheck test and lg-gradcheck use.
#include <lasergrad/lasergrad.h>

#include <functional>

#include "testing/registry.h"
#include "testing/samples.h"

namespace lg {

void register_elementwise_select_ops() {
  using samples::constant;
  using samples::leaf;
  using samples::strided_leaf;
  // The condition comes from a constant float64 input, so samples stay float64.
  register_op(
      {"where", [](const std::vector<Tensor>& in) { return where(gt(in[0], 0), in[1], in[2]); },
       [] {
         return std::vector<OpSample>{
             {"same shape [3,4]", {constant({3, 4}), leaf({3, 4}), leaf({3, 4})}},
             {"broadcast cond [3,1], a [4], b 0-d", {constant({3, 1}), leaf({4}), leaf({})}},
             {"broadcast cond [4], a [2,1,4], b [3,4] non-contiguous",
              {constant({4}), leaf({2, 1, 4}), strided_leaf({3, 4})}},
             {"non-contiguous", {constant({3, 4}), strided_leaf({3, 4}), strided_leaf({3, 4})}},
         };
       }});
  register_op({"masked_fill",
               [](const std::vector<Tensor>& in) { return masked_fill(in[1], gt(in[0], 0), -2.5); },
               [] {
                 return std::vector<OpSample>{
                     {"[3,4]", {constant({3, 4}), leaf({3, 4})}},
                     {"mask [4] broadcast to [3,4]", {constant({4}), leaf({3, 4})}},
                     {"non-contiguous", {constant({1, 4}), strided_leaf({2, 3, 4})}},
                 };
               }});
  // Uniform samples land within the finite-difference step of a bound with
  // negligible probability.
  register_op({"clamp",
               [](const std::vector<Tensor>& in) {
                 return clamp(in[0], -0.55, 0.45) + clamp(in[0], std::nullopt, 0.3) +
                        clamp(in[0], -0.2);
               },
               [] {
                 return std::vector<OpSample>{
                     {"[3,4]", {leaf({3, 4})}},
                     {"non-contiguous [2,3,4]", {strided_leaf({2, 3, 4})}},
                 };
               }});
}

}  // namespace lg
