#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/factory.h>
#include <lasergrad/ops/normalization.h>
#include <lasergrad/ops/reduction.h>

#include <limits>
#include <numeric>

#include "op_support.h"

namespace lg {
using detail::BackwardArgs;

namespace {

// A contiguous tensor's data seen as `shape` (undefined stays undefined).
Tensor flat(const Tensor& t, const Shape& shape) {
  return t.defined() ? make_view(t, shape, contiguous_strides(shape), t.storage_offset()) : t;
}

// The last `n` dims, as negative indices.
std::vector<int64_t> trailing_dims(size_t n) {
  std::vector<int64_t> dims(n);
  std::iota(dims.begin(), dims.end(), -static_cast<int64_t>(n));
  return dims;
}

void check_param(const Tensor& p, const char* what, const Shape& shape, const Tensor& x,
                 const char* op) {
  if (!p.defined()) return;
  LG_CHECK(p.shape() == shape, op, ": ", what, " ", p.describe(), " does not have shape ",
           shape_str(shape), " (input ", x.describe(), ")");
  LG_CHECK(p.dtype() == x.dtype(), op, ": ", what, " ", p.describe(), " and input ", x.describe(),
           " have different dtypes");
  detail::check_same_device(x, p, op);
}

// Validates a normalisation over the trailing `normalized_shape` of x; returns
// the number of normalised elements per row.
int64_t check_normalized(const char* op, const Tensor& x, const Shape& normalized_shape,
                         const Tensor& weight, const Tensor& bias) {
  detail::check_defined(x, op);
  LG_CHECK(is_floating(x.dtype()), op, ": expected a floating-point input, got ", x.describe());
  LG_CHECK(!normalized_shape.empty(), op, ": normalized_shape must have at least one dimension");
  const size_t n = normalized_shape.size();
  bool match = static_cast<size_t>(x.dim()) >= n;
  for (size_t i = 0; match && i < n; ++i) match = x.shape()[x.dim() - n + i] == normalized_shape[i];
  LG_CHECK(match, op, ": normalized_shape ", shape_str(normalized_shape),
           " does not match the last dimensions of input ", x.describe());
  check_param(weight, "weight", normalized_shape, x, op);
  check_param(bias, "bias", normalized_shape, x, op);
  return shape_numel(normalized_shape);
}

// The layer-norm gradients written in differentiable ops: the fused kernel's
// double-backward path.
std::vector<Tensor> layer_norm_composite_backward(const BackwardArgs& c, size_t norm_dims,
                                                  double eps) {
  const Tensor& x = c.saved("input");
  const Tensor& w = c.saved("weight");
  const std::vector<int64_t> dims = trailing_dims(norm_dims);
  std::vector<int64_t> lead(x.dim() - norm_dims);
  std::iota(lead.begin(), lead.end(), 0);
  Tensor xc = x - mean(x, dims, true);
  Tensor rstd = 1.0 / sqrt(mean(xc * xc, dims, true) + eps);
  Tensor xhat = xc * rstd;
  Tensor dx, dw, db;
  if (c.needs(0)) {
    Tensor gw = w.defined() ? c.grad * w : c.grad;
    dx = rstd * (gw - mean(gw, dims, true) - xhat * mean(gw * xhat, dims, true));
  }
  if (c.needs(1)) dw = lead.empty() ? c.grad * xhat : sum(c.grad * xhat, lead);
  if (c.needs(2)) db = lead.empty() ? c.grad : sum(c.grad, lead);
  return {dx, dw, db};
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  const int64_t N = check_normalized("layer_norm", x, normalized_shape, weight, bias);
  const int64_t M = N == 0 ? 0 : x.numel() / N;
  auto layer_norm_kernel = kernel(&KernelTable::layer_norm, x.device(), x.dtype(), "layer_norm");
  Tensor xc = x.detach().contiguous();
  Tensor wc = weight.defined() ? weight.detach().contiguous() : Tensor();
  Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor mu = Tensor::empty({M}, x.dtype(), x.device());
  Tensor rstd = Tensor::empty({M}, x.dtype(), x.device());
  layer_norm_kernel(flat(out, {M, N}), mu, rstd, flat(xc, {M, N}), flat(wc, {N}), flat(bc, {N}),
                    eps);
  const size_t norm_dims = normalized_shape.size();
  return detail::record(
      "layer_norm", out, {x, weight, bias},
      {{"input", x}, {"mean", mu}, {"rstd", rstd}, {"weight", weight}},
      [M, N, normalized_shape](const BackwardArgs& c) {
        // x and weight are saved as given (the composite differentiates through them).
        Tensor xs = c.saved("input").detach().contiguous();
        const Tensor& w = c.saved("weight");
        Tensor ws = w.defined() ? w.detach().contiguous() : Tensor();
        auto backward_kernel = kernel(&KernelTable::layer_norm_backward, xs.device(), xs.dtype(),
                                      "layer_norm backward");
        Tensor g = detail::cast_raw(c.grad.detach(), xs.dtype()).contiguous();
        Tensor dx, dw, db;
        if (c.needs(0)) dx = Tensor::empty(xs.shape(), xs.dtype(), xs.device());
        if (c.needs(1)) dw = Tensor::empty(normalized_shape, xs.dtype(), xs.device());
        if (c.needs(2)) db = Tensor::empty(normalized_shape, xs.dtype(), xs.device());
        backward_kernel(flat(dx, {M, N}), flat(dw, {N}), flat(db, {N}), flat(g, {M, N}),
                        flat(xs, {M, N}), c.saved("mean"), c.saved("rstd"), flat(ws, {N}));
        return std::vector<Tensor>{dx, dw, db};
      },
      {.fused_backward = true, .composite = [norm_dims, eps](const BackwardArgs& c) {
         return layer_norm_composite_backward(c, norm_dims, eps);
       }});
}

Tensor layer_norm_composite(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                            const Tensor& bias, double eps) {
  check_normalized("layer_norm", x, normalized_shape, weight, bias);
  const std::vector<int64_t> dims = trailing_dims(normalized_shape.size());
  Tensor xc = x - mean(x, dims, true);
  Tensor y = xc / sqrt(mean(xc * xc, dims, true) + eps);
  if (weight.defined()) y = y * weight;
  if (bias.defined()) y = y + bias;
  return y;
}

Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                std::optional<double> eps) {
  check_normalized("rms_norm", x, normalized_shape, weight, Tensor());
  const double e = eps.value_or(x.dtype() == kFloat32 ? std::numeric_limits<float>::epsilon()
                                                      : std::numeric_limits<double>::epsilon());
  Tensor y = x / sqrt(mean(x * x, trailing_dims(normalized_shape.size()), true) + e);
  return weight.defined() ? y * weight : y;
}

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum,
                  double eps) {
  detail::check_defined(x, "batch_norm");
  LG_CHECK(is_floating(x.dtype()), "batch_norm: expected a floating-point input, got ",
           x.describe());
  LG_CHECK(x.dim() >= 2, "batch_norm: expected an input [N,C,...] of at least 2 dimensions, got ",
           x.describe());
  const int64_t C = x.shape()[1];
  check_param(weight, "weight", {C}, x, "batch_norm");
  check_param(bias, "bias", {C}, x, "batch_norm");
  for (const Tensor* buffer : {&running_mean, &running_var}) {
    if (!buffer->defined()) continue;
    LG_CHECK(buffer->shape() == Shape{C}, "batch_norm: running statistics ", buffer->describe(),
             " do not have shape [", C, "] (input ", x.describe(), ")");
    LG_CHECK(is_floating(buffer->dtype()), "batch_norm: running statistics ", buffer->describe(),
             " must be floating-point");
    detail::check_same_device(x, *buffer, "batch_norm");
  }
  // Per-channel values broadcast as [1,C,1,...]; statistics reduce every other dim.
  Shape channel_shape(x.dim(), 1);
  channel_shape[1] = C;
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);

  Tensor y;
  if (training) {
    const int64_t n = C == 0 ? 0 : x.numel() / C;
    LG_CHECK(n > 1, "batch_norm: expected more than 1 value per channel when training, got input ",
             x.describe());
    Tensor mu = mean(x, dims, true);
    Tensor xc = x - mu;
    Tensor var = mean(xc * xc, dims, true);
    y = xc / sqrt(var + eps);
    NoGradGuard no_grad;
    const double unbias = static_cast<double>(n) / static_cast<double>(n - 1);
    Tensor running_mean_buffer = running_mean, running_var_buffer = running_var;
    if (running_mean.defined())
      running_mean_buffer.mul_(1 - momentum).add_(mu.detach().reshape({C}), momentum);
    if (running_var.defined())
      running_var_buffer.mul_(1 - momentum).add_(var.detach().reshape({C}) * unbias, momentum);
  } else {
    LG_CHECK(running_mean.defined() && running_var.defined(),
             "batch_norm: running_mean and running_var are required in eval mode (input ",
             x.describe(), ")");
    y = (x - running_mean.reshape(channel_shape).to(x.dtype())) /
        sqrt(running_var.reshape(channel_shape).to(x.dtype()) + eps);
  }
  if (weight.defined()) y = y * weight.reshape(channel_shape);
  if (bias.defined()) y = y + bias.reshape(channel_shape);
  return y;
}

}  // namespace lg
