#include <lasergrad/core/error.h>
#include <lasergrad/core/grad_mode.h>
#include <lasergrad/nn/normalization.h>
#include <lasergrad/ops/factory.h>
#include <lasergrad/ops/normalization.h>

namespace lg::nn {

namespace {
void check_shape(const Shape& shape, const char* layer) {
  LG_CHECK(!shape.empty(), "nn::", layer, ": normalized_shape must not be empty");
  for (int64_t s : shape)
    LG_CHECK(s > 0, "nn::", layer, ": normalized_shape must be positive, got ", shape_str(shape));
}
}  // namespace

LayerNorm::LayerNorm(Shape shape, double eps, bool affine, bool with_bias)
    : normalized_shape(std::move(shape)), eps(eps) {
  check_shape(normalized_shape, "LayerNorm");
  LG_CHECK(eps >= 0, "nn::LayerNorm: eps must be >= 0, got ", eps);
  if (affine) {
    weight = ones(normalized_shape);
    register_parameter("weight", weight);
    if (with_bias) {
      bias = zeros(normalized_shape);
      register_parameter("bias", bias);
    }
  }
}

Tensor LayerNorm::forward(const Tensor& x) const {
  return layer_norm(x, normalized_shape, weight, bias, eps);
}

std::string LayerNorm::extra_repr() const {
  return shape_str(normalized_shape) + ", eps=" + format_number(eps) +
         ", elementwise_affine=" + (weight.defined() ? "true" : "false");
}

RMSNorm::RMSNorm(Shape shape, std::optional<double> eps, bool affine)
    : normalized_shape(std::move(shape)), eps(eps) {
  check_shape(normalized_shape, "RMSNorm");
  LG_CHECK(!eps || *eps >= 0, "nn::RMSNorm: eps must be >= 0, got ", eps.value_or(0));
  if (affine) {
    weight = ones(normalized_shape);
    register_parameter("weight", weight);
  }
}

Tensor RMSNorm::forward(const Tensor& x) const { return rms_norm(x, normalized_shape, weight, eps); }

std::string RMSNorm::extra_repr() const {
  return shape_str(normalized_shape) + ", eps=" + (eps ? format_number(*eps) : "None") +
         ", elementwise_affine=" + (weight.defined() ? "true" : "false");
}

BatchNorm1d::BatchNorm1d(int64_t c, double eps, double momentum, bool affine, bool track)
    : num_features(c), eps(eps), momentum(momentum) {
  LG_CHECK(c > 0, "nn::BatchNorm1d: num_features must be positive, got ", c);
  LG_CHECK(momentum >= 0 && momentum <= 1, "nn::BatchNorm1d: momentum must lie in [0, 1], got ",
           momentum);
  if (affine) {
    weight = ones({c});
    bias = zeros({c});
    register_parameter("weight", weight);
    register_parameter("bias", bias);
  }
  if (track) {
    running_mean = zeros({c});
    running_var = ones({c});
    num_batches_tracked = zeros({}, {.dtype = kInt64});
    register_buffer("running_mean", running_mean);
    register_buffer("running_var", running_var);
    register_buffer("num_batches_tracked", num_batches_tracked);
  }
}

Tensor BatchNorm1d::forward(const Tensor& x) {
  LG_CHECK(x.defined() && (x.dim() == 2 || x.dim() == 3) && x.size(1) == num_features,
           "nn::BatchNorm1d: expected input [N, ", num_features, "] or [N, ", num_features,
           ", L], got ", x.defined() ? x.describe() : std::string("undefined"));
  // Without running statistics the batch's are used in eval mode too (PyTorch's rule).
  bool use_batch_stats = is_training() || !running_mean.defined();
  if (is_training() && num_batches_tracked.defined()) {
    NoGradGuard no_grad;
    num_batches_tracked.add_(1);
  }
  return batch_norm(x, running_mean, running_var, weight, bias, use_batch_stats, momentum, eps);
}

std::string BatchNorm1d::extra_repr() const {
  return std::to_string(num_features) + ", eps=" + format_number(eps) +
         ", momentum=" + format_number(momentum) +
         ", affine=" + (weight.defined() ? "true" : "false") +
         ", track_running_stats=" + (running_mean.defined() ? "true" : "false");
}

}  // namespace lg::nn
