#include <lasergrad/core/random.h>
#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/factory.h>
#include <lasergrad/ops/indexing.h>
#include <lasergrad/ops/reduction.h>
#include <lasergrad/ops/sampling.h>
#include <lasergrad/ops/view.h>

#include <algorithm>

#include "op_support.h"

namespace lg {
using detail::BackwardArgs;

namespace {

// The CPU rows' values: finite, non-negative, each row with non-zero mass and,
// without replacement, num_samples non-zero categories. On a device the
// kernel checks them and reports a bad row at the next synchronisation.
void check_host_probabilities(const Tensor& rows, const Tensor& probs, int64_t num_samples,
                              bool replacement) {
  LG_CHECK(rows.all_finite(), "multinomial: probs contain NaN or Inf: ", probs.describe());
  LG_CHECK(min(rows).item<double>() >= 0,
           "multinomial: probs contain negative values: ", probs.describe());
  LG_CHECK(min(sum(rows, 1)).item<double>() > 0,
           "multinomial: a row of probs sums to 0: ", probs.describe());
  LG_CHECK(replacement || min(sum(gt(rows, 0), 1)).item<int64_t>() >= num_samples,
           "multinomial: a row of ", probs.describe(), " has fewer than ", num_samples,
           " categories with non-zero probability to draw without replacement");
}

}  // namespace

Tensor multinomial(const Tensor& probs, int64_t num_samples, bool replacement) {
  detail::check_defined(probs, "multinomial", "probs");
  LG_CHECK(probs.dim() == 1 || probs.dim() == 2, "multinomial: probs must be 1-d or 2-d, got ",
           probs.describe());
  LG_CHECK(is_floating(probs.dtype()), "multinomial: probs must be floating point, got ",
           probs.describe());
  const int64_t C = probs.shape().back();
  LG_CHECK(C > 0, "multinomial: probs has no categories: ", probs.describe());
  LG_CHECK(num_samples > 0, "multinomial: num_samples must be positive, got ", num_samples);
  LG_CHECK(replacement || num_samples <= C, "multinomial: cannot draw ", num_samples,
           " samples without replacement from ", C, " categories (", probs.describe(), ")");
  NoGradGuard no_grad;
  Tensor rows = probs.detach().reshape({-1, C}).contiguous();
  const int64_t R = rows.shape()[0];
  Tensor out = Tensor::empty({R, num_samples}, kInt64, probs.device());
  if (R > 0) {
    if (probs.device().is_cpu()) check_host_probabilities(rows, probs, num_samples, replacement);
    // One counter per draw with replacement, one per category without (the kernel's keys).
    RngState rng = reserve_random(static_cast<uint64_t>(R * (replacement ? num_samples : C)));
    kernel(&KernelTable::multinomial, probs.device(), probs.dtype(), "multinomial")(
        out, rows, replacement, rng.seed, rng.offset);
  }
  return probs.dim() == 1 ? out.reshape({num_samples}) : out;
}

TopK topk(const Tensor& x, int64_t k, int64_t dim, bool largest, bool /*sorted*/) {
  detail::check_defined(x, "topk");
  LG_CHECK(x.dtype() != kBool, "topk: not defined for bool tensors, got ", x.describe());
  const int64_t d = wrap_dim_of_0d_as_1d(dim, x.dim(), "topk");
  const int64_t n = x.dim() == 0 ? 1 : x.shape()[d];
  LG_CHECK(k >= 0 && k <= n, "topk: k = ", k, " is out of range for dimension ", dim, " of size ",
           n, " in ", x.describe());
  Tensor values, indices;
  {
    NoGradGuard no_grad;
    // The kernel works on rows: move dim last, flatten the rest.
    Tensor base = x.detach();
    Tensor moved = (x.dim() == 0 ? base.reshape({1}) : base).transpose(d, -1).contiguous();
    Shape out_shape = moved.shape();
    out_shape.back() = k;
    const int64_t R = shape_numel(out_shape) / std::max<int64_t>(k, 1);
    values = Tensor::empty({R, k}, x.dtype(), x.device());
    indices = Tensor::empty({R, k}, kInt64, x.device());
    if (R * k > 0)
      kernel(&KernelTable::topk, x.device(), x.dtype(), "topk")(values, indices,
                                                                moved.reshape({R, n}), largest);
    auto restore = [&](const Tensor& t) {
      Tensor r = t.reshape(out_shape).transpose(d, -1).contiguous();
      return x.dim() == 0 ? r.reshape({}) : r;
    };
    values = restore(values);
    indices = restore(indices);
  }
  // The gradient goes back to the selected positions by scatter_add, whose own
  // gradient gathers, so double backward works.
  values = detail::record(
      "topk", values, {x}, {{"indices", indices}},
      [in = detail::meta(x), d](const BackwardArgs& c) {
        auto lift = [](const Tensor& t) { return t.dim() == 0 ? t.reshape({1}) : t; };
        Shape shape = in.shape.empty() ? Shape{1} : in.shape;
        Tensor base = zeros(shape, {.dtype = c.grad.dtype(), .device = c.grad.device()});
        Tensor g = scatter_add(base, d, lift(c.saved("indices")), lift(c.grad));
        return std::vector<Tensor>{detail::grad_for(g.reshape(in.shape), in)};
      });
  return {values, indices};
}

}  // namespace lg
