// One Adam/AdamW update of a parameter and its two moment buffers, in place:
// what optim::Adam and optim::AdamW run for each parameter.
#pragma once
#include "../core/tensor.h"

namespace lg {

// PyTorch's formulas: AdamW first scales param by 1 - lr * weight_decay
// (decoupled), Adam adds weight_decay * param to the gradient (L2); then
// m = beta1 m + (1 - beta1) g, v = beta2 v + (1 - beta2) g^2,
// param -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps), with the bias
// corrections bc = 1 - beta^step computed by the caller.
struct AdamStepArgs {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled = false;
  double bias_correction1 = 1.0;
  double bias_correction2 = 1.0;
};

// Updates param, exp_avg and exp_avg_sq in place from grad (not recorded by
// autograd; bumps their versions). One fused kernel pass where the device has
// one and all four are contiguous, else adam_step_reference. The four tensors
// must share shape, dtype (floating) and device.
void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
               const Tensor& exp_avg_sq, const AdamStepArgs& args);

// The same update written with in-place tensor ops (any device, any strides):
// the reference the fused kernel is tested against, and its fallback.
void adam_step_reference(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                         const Tensor& exp_avg_sq, const AdamStepArgs& args);

}  // namespace lg
