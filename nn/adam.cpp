// Adam and AdamW: options, state, and one adam_step op per parameter.
#include <lasergrad/nn/optimizer.h>
#include <lasergrad/ops/factory.h>

#include <cmath>

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
  adam_step(param, grad, state.at("exp_avg"), state.at("exp_avg_sq"), args);
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
