// Op-registry entries of the reduction ops (ops/reduction.cpp): how to call each op
// and the sample inputs that the generic gradcheck test and lg-gradcheck use.
#include <lasergrad/lasergrad.h>

#include <functional>

#include "testing/registry.h"
#include "testing/samples.h"

namespace lg {

void register_reduction_ops() {
  using samples::leaf;
  using samples::strided_leaf;
  auto shapes = [] {
    return std::vector<OpSample>{
        {"[3,4]", {leaf({3, 4})}},
        {"non-contiguous [2,3,4]", {strided_leaf({2, 3, 4})}},
    };
  };
  register_op({"sum", [](const std::vector<Tensor>& in) { return sum(in[0]); }, shapes});
  register_op({"sum.dim",
               [](const std::vector<Tensor>& in) {
                 return sum(in[0], 1) * 2 + sum(in[0], std::vector<int64_t>{0, -1}, true).sum();
               },
               shapes});
  register_op({"mean", [](const std::vector<Tensor>& in) { return mean(in[0]); }, shapes});
  register_op(
      {"mean.dim", [](const std::vector<Tensor>& in) { return mean(in[0], -1, true); }, shapes});
  // Uniform random samples have no ties, so max/min are differentiable there.
  register_op({"max", [](const std::vector<Tensor>& in) { return max(in[0]); }, shapes});
  register_op({"max.dim", [](const std::vector<Tensor>& in) { return max(in[0], 0); }, shapes});
  register_op({"min", [](const std::vector<Tensor>& in) { return min(in[0]); }, shapes});
  register_op(
      {"min.dim", [](const std::vector<Tensor>& in) { return min(in[0], 1, true); }, shapes});
  register_op({"logsumexp", [](const std::vector<Tensor>& in) { return logsumexp(in[0], 1); },
               [] {
                 return std::vector<OpSample>{
                     {"[3,4]", {leaf({3, 4}, -3, 3)}},
                     {"non-contiguous [2,3,4]", {strided_leaf({2, 3, 4}, -3, 3)}},
                     {"large values [2,5]", {leaf({2, 5}, 500, 505)}},
                 };
               }});
  register_op({"logsumexp.dims",
               [](const std::vector<Tensor>& in) {
                 return logsumexp(in[0], std::vector<int64_t>{0, -1}, /*keepdim=*/true);
               },
               shapes});
  register_op({"var",
               [](const std::vector<Tensor>& in) {
                 return var(in[0]) + var(in[0], 0, /*unbiased=*/false).sum();
               },
               shapes});
  register_op({"std",
               [](const std::vector<Tensor>& in) {
                 return std(in[0], -1, /*unbiased=*/true, /*keepdim=*/true);
               },
               shapes});
  register_op({"cumsum", [](const std::vector<Tensor>& in) { return cumsum(in[0], 1); }, shapes});
}

}  // namespace lg
