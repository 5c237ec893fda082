// Op-registry entries of the sampling ops (ops/sampling.cpp): how to call each op
// and the sample inputs that the generic gradcheck test and lg-gradcheck use.
#include <lasergrad/lasergrad.h>

#include <functional>

#include "testing/registry.h"
#include "testing/samples.h"

namespace lg {

void register_sampling_ops() {
  using samples::leaf;
  using samples::strided_leaf;
  // Uniform samples have no ties, so the selection is locally constant.
  register_op({"topk",
               [](const std::vector<Tensor>& in) {
                 Tensor last = topk(in[0], 2).values.reshape({-1});
                 Tensor first = topk(in[0], 2, 0, /*largest=*/false).values.reshape({-1});
                 return cat({last, first});
               },
               [] {
                 return std::vector<OpSample>{
                     {"[3,5]", {leaf({3, 5})}},
                     {"non-contiguous [2,3,4]", {strided_leaf({2, 3, 4})}},
                 };
               }});
}

}  // namespace lg
