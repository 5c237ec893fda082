// Op-registry entries of the conv ops (ops/conv.cpp): how to call each op
// and the sample inputs that the generic gradcheck test and lg-gradcheck use.
#include <lasergrad/lasergrad.h>

#include <functional>

#include "testing/registry.h"
#include "testing/samples.h"

namespace lg {

void register_conv_ops() {
  using samples::leaf;
  using samples::strided_leaf;
  using In = std::vector<Tensor>;
  // One geometry per op covering every option at once; groups follow from the
  // shapes (Cin / weight's dim 1), so samples can be dense, grouped or depthwise.
  auto bias_of = [](const In& in) { return in.size() > 2 ? in[2] : Tensor(); };
  register_op(
      {.name = "conv1d",
       .call =
           [bias_of](const In& in) {
             return conv1d(in[0], in[1], bias_of(in),
                           {.stride = 2,
                            .padding = 1,
                            .dilation = 2,
                            .groups = in[0].size(-2) / in[1].size(1)});
           },
       .samples =
           [] {
             return std::vector<OpSample>{
                 {"[2,2,7] * [3,2,3] + bias", {leaf({2, 2, 7}), leaf({3, 2, 3}), leaf({3})}},
                 {"groups 2, non-contiguous", {strided_leaf({1, 4, 6}), strided_leaf({4, 2, 2})}},
                 {"depthwise (direct) + bias", {leaf({2, 3, 6}), leaf({3, 1, 3}), leaf({3})}},
                 {"unbatched [2,6]", {leaf({2, 6}), leaf({2, 2, 2})}},
             };
           },
       .fused_backward = true});
  register_op(
      {.name = "conv2d",
       .call =
           [bias_of](const In& in) {
             return conv2d(in[0], in[1], bias_of(in),
                           {.stride = {1, 2},
                            .padding = {1, 0},
                            .dilation = {2, 1},
                            .groups = in[0].size(-3) / in[1].size(1)});
           },
       .samples =
           [] {
             return std::vector<OpSample>{
                 {"[2,2,3,4] * [2,2,2,2] + bias",
                  {leaf({2, 2, 3, 4}), leaf({2, 2, 2, 2}), leaf({2})}},
                 {"groups 2, non-contiguous",
                  {strided_leaf({1, 4, 3, 4}), strided_leaf({4, 2, 2, 2})}},
                 {"depthwise (direct) + bias", {leaf({1, 2, 4, 4}), leaf({2, 1, 2, 3}), leaf({2})}},
             };
           },
       .fused_backward = true});
  register_op(
      {"im2col",
       [](const In& in) {
         return im2col(in[0], {2, 2}, {.dilation = {1, 2}, .padding = {1, 0}, .stride = {2, 1}});
       },
       [] {
         return std::vector<OpSample>{{"[1,2,3,4]", {leaf({1, 2, 3, 4})}},
                                      {"non-contiguous [2,1,3,4]", {strided_leaf({2, 1, 3, 4})}}};
       }});
  register_op({"col2im",
               [](const In& in) {
                 return col2im(in[0], {3, 4}, {2, 2},
                               {.dilation = {1, 2}, .padding = {1, 0}, .stride = {2, 1}});
               },
               [] {
                 // output [3,4] with this window gives 2 x 2 positions.
                 return std::vector<OpSample>{
                     {"[1,8,4]", {leaf({1, 8, 4})}},
                     {"non-contiguous [2,4,4]", {strided_leaf({2, 4, 4})}}};
               }});
}

}  // namespace lg
