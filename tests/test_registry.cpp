// The op registry: every registered op passes gradcheck and gradgradcheck in
// float64 on all its samples; the registry is complete.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include <algorithm>

#include "testing/registry.h"

using namespace lg;

TEST_CASE("every registered op passes gradcheck and gradgradcheck in float64") {
  manual_seed(2024);
  for (const OpInfo* entry : op_registry()) {
    const OpInfo& op = *entry;
    auto samples = op.samples();
    CHECK_MESSAGE(!samples.empty(), op.name);
    for (const OpSample& s : samples) {
      INFO(op.name << " / " << s.description);
      GradcheckResult r = gradcheck(op.call, s.inputs);
      CHECK_MESSAGE(r.ok, r.message);
      if (op.check_gradgrad) {
        GradcheckResult rr = gradgradcheck(op.call, s.inputs);
        CHECK_MESSAGE(rr.ok, rr.message);
      }
    }
  }
}

TEST_CASE("samples cover broadcasting and non-contiguous inputs") {
  int non_contiguous = 0;
  for (const OpInfo* op : op_registry())
    for (const OpSample& s : op->samples())
      for (const Tensor& t : s.inputs) non_contiguous += t.is_contiguous() ? 0 : 1;
  CHECK(non_contiguous > 20);
}

// The public differentiable ops. Adding an op means adding its registry entry
// (with samples) and its name here; this test fails until both are done.
TEST_CASE("the registry holds exactly the public differentiable ops") {
  std::vector<std::string> expected = {
      "add", "sub", "mul", "div", "maximum", "minimum", "pow", "pow.scalar", "scalar_arithmetic",
      "neg", "exp", "log", "sqrt", "abs",
      "sum", "sum.dim", "mean", "mean.dim", "max", "max.dim", "min", "min.dim",
      "matmul", "linear",
      "view", "reshape", "transpose", "permute", "slice", "select", "expand", "squeeze",
      "unsqueeze", "flatten", "contiguous", "clone", "cat", "slice_backward",
      "tanh", "sigmoid", "relu", "gelu", "gelu.tanh", "silu", "softplus", "softplus.beta", "erf",
      "where", "masked_fill", "clamp",
      "logsumexp", "logsumexp.dims", "var", "std", "cumsum",
      "topk",
      "layer_norm", "layer_norm.2d", "rms_norm", "batch_norm", "batch_norm.eval",
      "embedding", "embedding.padding_idx", "index_select", "index_add", "gather", "scatter_add",
      "stack", "split", "split.sizes", "chunk", "pad", "repeat", "dropout",
      "conv1d", "conv2d", "im2col", "col2im",
      "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
      "softmax", "log_softmax",
      "cross_entropy", "cross_entropy.smoothing", "cross_entropy.none", "nll_loss", "nll_loss.none",
      "mse_loss", "mse_loss.none", "ctc_loss",
      "scaled_dot_product_attention", "scaled_dot_product_attention.causal", "laser_attention",
      "laser_attention.causal"};
  std::vector<std::string> names;
  for (const OpInfo* op : op_registry()) names.push_back(op->name);
  CHECK(op_registry().size() == expected.size());
  for (const std::string& n : expected) CHECK_MESSAGE(find_op(n) != nullptr, n);
  CHECK(find_op("no_such_op") == nullptr);
  CHECK_THROWS_AS(register_op({"add", nullptr, nullptr}), Error);
}
