#include <lasergrad/core/grad_mode.h>
#include <lasergrad/ops/adam_step.h>
#include <lasergrad/ops/arithmetic.h>

#include <cmath>

#include "core/kernels.h"

namespace lg {
namespace {

void check_adam_operands(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                         const Tensor& exp_avg_sq) {
  LG_CHECK(is_floating(param.dtype()), "adam_step: the parameter must be floating point, got ",
           param.describe());
  for (const Tensor* t : {&grad, &exp_avg, &exp_avg_sq}) {
    LG_CHECK(
        t->shape() == param.shape() && t->dtype() == param.dtype() && t->device() == param.device(),
        "adam_step: param ", param.describe(), ", grad ", grad.describe(), ", exp_avg ",
        exp_avg.describe(), " and exp_avg_sq ", exp_avg_sq.describe(),
        " must share shape, dtype and device");
  }
}

}  // namespace

void adam_step_reference(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                         const Tensor& exp_avg_sq, const AdamStepArgs& a) {
  NoGradGuard no_grad;
  Tensor p = param, m = exp_avg, v = exp_avg_sq;
  Tensor g = grad;
  if (!a.decoupled && a.weight_decay != 0) g = grad + param * a.weight_decay;
  if (a.decoupled) p.mul_(1.0 - a.lr * a.weight_decay);
  m.mul_(a.beta1).add_(g, 1.0 - a.beta1);
  v.mul_(a.beta2).add_(g * g, 1.0 - a.beta2);
  const Tensor denom = sqrt(v) / std::sqrt(a.bias_correction2) + a.eps;
  p.add_(m / denom, -(a.lr / a.bias_correction1));
}

void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
               const Tensor& exp_avg_sq, const AdamStepArgs& args) {
  check_adam_operands(param, grad, exp_avg, exp_avg_sq);
  const auto fused = kernel_table(param.device(), param.dtype()).adam_step;
  if (fused && param.is_contiguous() && grad.is_contiguous() && exp_avg.is_contiguous() &&
      exp_avg_sq.is_contiguous()) {
    fused(param, grad, exp_avg, exp_avg_sq, args);
    param.bump_version();
    exp_avg.bump_version();
    exp_avg_sq.bump_version();
  } else {
    adam_step_reference(param, grad, exp_avg, exp_avg_sq, args);
  }
}

}  // namespace lg
