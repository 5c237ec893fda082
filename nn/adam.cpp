// Adam and AdamW: the fused kernel where the device has one, else the
// reference in in-place tensor ops (also what the tests hold the kernel to).
#include <cmath>

#include "../core/grad_mode.h"
#include "../ops/arithmetic.h"
#include "../ops/factory.h"
#include "optimizer.h"

namespace lg::optim {
namespace {

void check_adam_options(const std::string& name, double beta1, double beta2, double eps) {
  LG_CHECK(beta1 >= 0 && beta1 < 1, name, ": beta1 must be in [0, 1), got ", beta1);
  LG_CHECK(beta2 >= 0 && beta2 < 1, name, ": beta2 must be in [0, 1), got ", beta2);
  check_hyper_parameter(name + ": ", "eps", eps, 0, true);
}

AdamOptions adam_options(const AdamWOptions& o) {
  return {
      .lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps, .weight_decay = o.weight_decay};
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

Adam::Adam(std::vector<Tensor> params, AdamOptions options)
    : Adam("Adam", {ParamGroup{.params = std::move(params)}}, options, false) {}

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions options)
    : Adam("Adam", std::move(groups), options, false) {}

Adam::Adam(std::string name, std::vector<ParamGroup> groups, AdamOptions options, bool decoupled)
    : Optimizer(std::move(name), std::move(groups), options.lr, options.weight_decay),
      options_(options),
      decoupled_(decoupled) {
  check_adam_options(name_, options.beta1, options.beta2, options.eps);
}

AdamW::AdamW(std::vector<Tensor> params, AdamWOptions options)
    : Adam("AdamW", {ParamGroup{.params = std::move(params)}}, adam_options(options), true) {}

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions options)
    : Adam("AdamW", std::move(groups), adam_options(options), true) {}

void Adam::update(const Group& group, const Tensor& param, const Tensor& grad, State& state) {
  if (state.empty()) {
    state["step"] = zeros({}, {.dtype = kInt64});
    state["exp_avg"] = zeros(param.shape(), {.dtype = param.dtype(), .device = param.device()});
    state["exp_avg_sq"] = zeros(param.shape(), {.dtype = param.dtype(), .device = param.device()});
  }
  const Tensor& step = state.at("step");
  const int64_t n = ++*step.data_ptr<int64_t>();
  step.bump_version();
  const AdamStepArgs args{
      .lr = group.lr,
      .beta1 = options_.beta1,
      .beta2 = options_.beta2,
      .eps = options_.eps,
      .weight_decay = group.weight_decay,
      .decoupled = decoupled_,
      .bias_correction1 = 1.0 - std::pow(options_.beta1, static_cast<double>(n)),
      .bias_correction2 = 1.0 - std::pow(options_.beta2, static_cast<double>(n))};
  const Tensor& m = state.at("exp_avg");
  const Tensor& v = state.at("exp_avg_sq");
  const auto fused = kernel_table(param.device(), param.dtype()).adam_step;
  if (fused && param.is_contiguous() && grad.is_contiguous() && m.is_contiguous() &&
      v.is_contiguous()) {
    fused(param, grad, m, v, args);
    param.bump_version();
    m.bump_version();
    v.bump_version();
  } else {
    adam_step_reference(param, grad, m, v, args);
  }
}

std::vector<std::pair<std::string, double>> Adam::hyper_parameters() const {
  return {{"beta1", options_.beta1}, {"beta2", options_.beta2}, {"eps", options_.eps}};
}

void Adam::set_hyper_parameters(const std::map<std::string, double>& values) {
  const double beta1 = values.at("beta1"), beta2 = values.at("beta2"), eps = values.at("eps");
  check_adam_options(name_ + ".load_state_dict", beta1, beta2, eps);
  options_.beta1 = beta1;
  options_.beta2 = beta2;
  options_.eps = eps;
}

std::vector<std::string> Adam::state_names() const { return {"exp_avg", "exp_avg_sq", "step"}; }

}  // namespace lg::optim
