// Op-registry entries of the linalg ops (ops/linalg.cpp): how to call each op
// and the sample inputs that the generic gradcheck test and lg-gradcheck use.
#include <lasergrad/lasergrad.h>

#include <functional>

#include "testing/registry.h"
#include "testing/samples.h"

namespace lg {

void register_linalg_ops() {
  using samples::leaf;
  using samples::strided_leaf;
  register_op({"matmul", [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
               [] {
                 return std::vector<OpSample>{
                     {"[3,4] @ [4,2]", {leaf({3, 4}), leaf({4, 2})}},
                     {"transposed operands", {strided_leaf({3, 4}), strided_leaf({4, 2})}},
                     {"batch broadcast [2,1,3,4] @ [3,4,2]", {leaf({2, 1, 3, 4}), leaf({3, 4, 2})}},
                     {"[4] @ [4,3]", {leaf({4}), leaf({4, 3})}},
                     {"[2,3,4] @ [4]", {leaf({2, 3, 4}), leaf({4})}},
                     {"[5] @ [5]", {leaf({5}), leaf({5})}},
                 };
               }});
  register_op({"linear",
               [](const std::vector<Tensor>& in) {
                 return linear(in[0], in[1], in.size() > 2 ? in[2] : Tensor());
               },
               [] {
                 return std::vector<OpSample>{
                     {"[3,4] x [2,4] + [2]", {leaf({3, 4}), leaf({2, 4}), leaf({2})}},
                     {"[2,3,4] x [5,4] + [5]", {leaf({2, 3, 4}), leaf({5, 4}), leaf({5})}},
                     {"no bias", {leaf({3, 4}), leaf({2, 4})}},
                     {"1-d input [4] x [3,4] + [3]", {leaf({4}), leaf({3, 4}), leaf({3})}},
                     {"non-contiguous input and weight",
                      {strided_leaf({2, 3, 4}), strided_leaf({3, 4}), leaf({3})}},
                 };
               }});
}

}  // namespace lg
