// Op-registry entries of the normalization ops (ops/normalization.cpp): how to call each op
// and the sample inputs that the generic gradcheck test and lg-gradcheck use.
#include <lasergrad/lasergrad.h>

#include <functional>

#include "testing/registry.h"
#include "testing/samples.h"

namespace lg {

// Optional arguments come last in a sample's inputs: a shorter list leaves them
// undefined (absent).
namespace {
Tensor arg(const std::vector<Tensor>& in, size_t i) { return i < in.size() ? in[i] : Tensor(); }
}  // namespace

void register_normalization_ops() {
  using samples::constant;
  using samples::leaf;
  using samples::strided_leaf;
  using In = std::vector<Tensor>;
  register_op(
      {"layer_norm",
       [](const In& in) {
         return layer_norm(in[0], {in[0].shape().back()}, arg(in, 1), arg(in, 2));
       },
       [] {
         return std::vector<OpSample>{
             {"[3,4] with weight and bias", {leaf({3, 4}), leaf({4}), leaf({4})}},
             {"non-contiguous [2,3,4]", {strided_leaf({2, 3, 4}), strided_leaf({4}), leaf({4})}},
             {"[5] with weight only", {leaf({5}), leaf({5})}},
             {"[2,1,3] without weight or bias", {leaf({2, 1, 3})}},
             {"constant weight", {leaf({2, 4}), constant({4}), leaf({4})}},
         };
       },
       true, true});
  register_op({"layer_norm.2d",
               [](const In& in) {
                 return layer_norm(in[0], {3, 2}, in[1], arg(in, 2), 1e-3);
               },
               [] {
                 return std::vector<OpSample>{
                     {"[2,3,2] over [3,2]", {leaf({2, 3, 2}), leaf({3, 2}), leaf({3, 2})}},
                     {"non-contiguous, no bias", {strided_leaf({2, 3, 2}), strided_leaf({3, 2})}},
                 };
               },
               true, true});
  register_op({"rms_norm", [](const In& in) { return rms_norm(in[0], {4}, arg(in, 1)); },
               [] {
                 return std::vector<OpSample>{
                     {"[3,4] with weight", {leaf({3, 4}), leaf({4})}},
                     {"non-contiguous [2,3,4]", {strided_leaf({2, 3, 4}), strided_leaf({4})}},
                     {"[4] without weight", {leaf({4})}},
                 };
               }});
  // inputs: x, weight, bias, running_mean, running_var (the last four optional).
  auto batch_norm_call = [](bool training) {
    return [training](const In& in) {
      return batch_norm(in[0], arg(in, 3), arg(in, 4), arg(in, 1), arg(in, 2), training);
    };
  };
  register_op({"batch_norm", batch_norm_call(true), [] {
                 return std::vector<OpSample>{
                     {"[4,3] training",
                      {leaf({4, 3}), leaf({3}), leaf({3}), constant({3}), constant({3}, 0.5, 2)}},
                     {"non-contiguous [2,3,4] training",
                      {strided_leaf({2, 3, 4}), strided_leaf({3}), leaf({3})}},
                     {"[2,2,2,2] training without affine", {leaf({2, 2, 2, 2})}},
                 };
               }});
  register_op({"batch_norm.eval", batch_norm_call(false), [] {
                 return std::vector<OpSample>{
                     {"[4,3] eval",
                      {leaf({4, 3}), leaf({3}), leaf({3}), constant({3}), constant({3}, 0.5, 2)}},
                     {"non-contiguous [2,3,4] eval",
                      {strided_leaf({2, 3, 4}), strided_leaf({3}), leaf({3}), constant({3}),
                       constant({3}, 0.5, 2)}},
                 };
               }});
}

}  // namespace lg
