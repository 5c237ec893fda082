// Gradient clipping: one global norm over all gradients, then one in-place scale.
#include <lasergrad/core/grad_mode.h>
#include <lasergrad/nn/clip_grad.h>
#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/elementwise_select.h>
#include <lasergrad/ops/reduction.h>

#include <cmath>

namespace lg::nn {

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  LG_CHECK(max_norm >= 0, "clip_grad_norm: max_norm must be >= 0, got ", max_norm);
  LG_CHECK(norm_type > 0, "clip_grad_norm: norm_type must be > 0 or INFINITY, got ", norm_type);
  NoGradGuard no_grad;
  std::vector<Tensor> grads;
  for (size_t i = 0; i < params.size(); ++i) {
    LG_CHECK(params[i].defined(), "clip_grad_norm: parameter ", i, " is an undefined tensor");
    Tensor g = params[i].grad();
    if (!g.defined() || g.numel() == 0) continue;
    LG_CHECK(is_floating(g.dtype()), "clip_grad_norm: gradient of parameter ", i, " is ",
             g.describe());
    grads.push_back(g);
  }
  const bool inf_norm = std::isinf(norm_type);
  double total = 0;
  for (const Tensor& g : grads) {
    // In float64: squares of float32 gradients above 1.8e19 would overflow.
    const Tensor g64 = g.to(kFloat64);
    if (norm_type == 2.0) {
      total += sum(g64 * g64).item<double>();
      continue;
    }
    const Tensor a = abs(g64);
    if (inf_norm) {
      const double m = max(a).item<double>();
      total = (std::isnan(m) || m > total) ? m : total;
      if (std::isnan(total)) break;
    } else if (norm_type == 1.0) {
      total += sum(a).item<double>();
    } else {
      total += sum(pow(a, norm_type)).item<double>();
    }
  }
  if (!inf_norm && norm_type != 1.0) total = std::pow(total, 1.0 / norm_type);
  if (std::isfinite(total) && total > max_norm) {
    const double scale = max_norm / (total + 1e-6);
    for (Tensor g : grads) g.mul_(scale);
  }
  return total;
}

void clip_grad_value(const std::vector<Tensor>& params, double clip_value) {
  LG_CHECK(clip_value >= 0, "clip_grad_value: clip_value must be >= 0, got ", clip_value);
  NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) {
    LG_CHECK(params[i].defined(), "clip_grad_value: parameter ", i, " is an undefined tensor");
    Tensor g = params[i].grad();
    if (!g.defined()) continue;
    g.copy_(clamp(g, -clip_value, clip_value));
  }
}

}  // namespace lg::nn
