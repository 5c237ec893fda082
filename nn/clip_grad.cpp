// Gradient clipping: one global norm over all gradients, then one in-place scale.
#include <lasergrad/core/grad_mode.h>
#include <lasergrad/nn/clip_grad.h>
#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/elementwise_select.h>
#include <lasergrad/ops/indexing.h>
#include <lasergrad/ops/reduction.h>

#include <cmath>
#include <map>
#include <string>

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
  // One 0-d float64 part per gradient, on the gradient's device, combined per
  // device and read once per device: reading each part back would make a GPU
  // step wait once per parameter.
  std::map<std::string, std::vector<Tensor>> parts;  // by device name
  for (const Tensor& g : grads) {
    // In float64: squares of float32 gradients above 1.8e19 would overflow.
    const Tensor g64 = g.to(kFloat64);
    Tensor part;
    if (norm_type == 2.0)
      part = sum(g64 * g64);
    else if (inf_norm)
      part = max(abs(g64));
    else if (norm_type == 1.0)
      part = sum(abs(g64));
    else
      part = sum(pow(abs(g64), norm_type));
    parts[g.device().str()].push_back(part);
  }
  double total = 0;
  for (const auto& [device, device_parts] : parts) {
    const Tensor all = stack(device_parts);
    const double t = (inf_norm ? max(all) : sum(all)).item<double>();  // max: NaN wins
    if (!inf_norm)
      total += t;
    else if (std::isnan(t) || t > total)
      total = t;
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
