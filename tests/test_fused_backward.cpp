// The contract for ops whose backward is a fused kernel: plain backward runs
// the kernel; create_graph runs the composite formula, or throws clearly.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include "ops/op_support.h"

using namespace lg;

namespace {

// y = x^3 whose "fused" backward computes 3x^2 g on detached tensors (as a
// kernel would: opaque to autograd).
Tensor cube(const Tensor& x, bool with_composite) {
  Tensor out;
  {
    NoGradGuard no_grad;
    out = x.detach() * x.detach() * x.detach();
  }
  detail::RecordOptions options{.fused_backward = true};
  if (with_composite)
    options.composite = [](const detail::BackwardArgs& c) {
      return std::vector<Tensor>{3.0 * c.saved("self") * c.saved("self") * c.grad};
    };
  return detail::record(
      "cube", out, {x}, {{"self", x}},
      [](const detail::BackwardArgs& c) {
        NoGradGuard kernel_runs_without_graph;
        Tensor x = c.saved("self").detach();
        return std::vector<Tensor>{3.0 * x * x * c.grad.detach()};
      },
      options);
}

}  // namespace

TEST_CASE("a fused backward gives first derivatives and falls back under create_graph") {
  Tensor x = randn({4}, {.dtype = kFloat64, .requires_grad = true});
  auto with = [](const std::vector<Tensor>& in) { return cube(in[0], true); };
  auto without = [](const std::vector<Tensor>& in) { return cube(in[0], false); };
  CHECK(gradcheck(with, {x}).ok);
  CHECK(gradcheck(without, {x}).ok);
  auto rr = gradgradcheck(with, {x});
  CHECK_MESSAGE(rr.ok, rr.message);
  CHECK_THROWS_WITH_AS(grad({sum(cube(x, false))}, {x}, {.create_graph = true}),
                       doctest::Contains("cube: double backward (create_graph=true) is not supported"),
                       Error);
  CHECK(cube(x, true).grad_fn()->has_fused_backward());
}
