// Op-registry entries of the view ops (ops/view.cpp): how to call each op
// and the sample inputs that the generic gradcheck test and lg-gradcheck use.
#include <lasergrad/lasergrad.h>

#include <functional>

#include "testing/registry.h"
#include "testing/samples.h"

namespace lg {

void register_view_ops() {
  using samples::leaf;
  using samples::strided_leaf;
  using In = std::vector<Tensor>;
  auto one = [](Shape shape) {
    return [shape] {
      return std::vector<OpSample>{{shape_str(shape), {leaf(shape)}},
                                   {"non-contiguous " + shape_str(shape), {strided_leaf(shape)}}};
    };
  };
  register_op({"view",
               [](const In& in) {
                 return in[0].contiguous().view({4, -1});
               },
               one({2, 3, 4})});
  register_op({"reshape",
               [](const In& in) {
                 return in[0].reshape({-1, 2}) * 1.0;
               },
               one({2, 3, 4})});
  register_op({"transpose", [](const In& in) { return in[0].transpose(0, -1); }, one({2, 3, 4})});
  register_op({"permute", [](const In& in) { return in[0].permute({1, 2, 0}); }, one({2, 3, 4})});
  register_op({"slice", [](const In& in) { return in[0].slice(1, 1, 5, 2).slice(0, -2, 10); },
               one({3, 6})});
  register_op({"select", [](const In& in) { return in[0].select(1, -1); }, one({3, 4})});
  register_op({"expand",
               [](const In& in) {
                 return in[0].unsqueeze(0).expand({2, -1, 4});
               },
               [] {
                 return std::vector<OpSample>{{"[3,1]", {leaf({3, 1})}},
                                              {"non-contiguous [3,1]", {strided_leaf({3, 1})}}};
               }});
  register_op({"squeeze", [](const In& in) { return in[0].squeeze() + in[0].squeeze(1).sum(); },
               one({3, 1, 2})});
  register_op(
      {"unsqueeze", [](const In& in) { return in[0].unsqueeze(-1).unsqueeze(0); }, one({3, 2})});
  register_op({"flatten", [](const In& in) { return in[0].flatten(1); }, one({2, 3, 4})});
  register_op({"contiguous", [](const In& in) { return in[0].contiguous(); }, one({3, 4})});
  register_op({"clone", [](const In& in) { return in[0].clone(); }, one({3, 4})});
  register_op(
      {"cat",
       [](const In& in) {
         return cat({in[0], in[1], in[2]}, 1);
       },
       [] {
         return std::vector<OpSample>{
             {"[2,1] [2,3] [2,2] on dim 1", {leaf({2, 1}), strided_leaf({2, 3}), leaf({2, 2})}},
         };
       }});
  register_op({"slice_backward",
               [](const In& in) {
                 return slice_backward(in[0], {4, 7}, 1, 1, 6, 2);
               },
               [] {
                 return std::vector<OpSample>{{"[4,3] into [4,7]", {leaf({4, 3})}}};
               }});
}

}  // namespace lg
