// SGD with momentum, dampening, Nesterov and L2 weight decay, PyTorch's rules,
// in in-place tensor ops (each a vectorised kernel; no fused kernel yet).
#include <lasergrad/core/grad_mode.h>
#include <lasergrad/nn/optimizer.h>
#include <lasergrad/ops/arithmetic.h>

#include <cmath>

namespace lg::optim {
namespace {

void check_sgd_options(const std::string& name, double momentum, double dampening, bool nesterov) {
  check_hyper_parameter(name + ": ", "momentum", momentum, 0);
  LG_CHECK(std::isfinite(dampening), name, ": dampening must be finite, got ", dampening);
  LG_CHECK(!nesterov || (momentum > 0 && dampening == 0), name,
           ": nesterov needs momentum > 0 and dampening 0, got momentum ", momentum,
           " and dampening ", dampening);
}

}  // namespace

SGD::SGD(std::vector<Tensor> params, SGDOptions options)
    : SGD(std::vector<ParamGroup>{ParamGroup{.params = std::move(params)}}, options) {}

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions options)
    : Optimizer("SGD", std::move(groups), options.lr, options.weight_decay), options_(options) {
  check_sgd_options(name_, options.momentum, options.dampening, options.nesterov);
}

void SGD::update(const Group& group, const Tensor& param, const Tensor& grad, State& state) {
  Tensor g = grad;
  if (group.weight_decay != 0) g = grad + param * group.weight_decay;
  if (options_.momentum != 0) {
    auto it = state.find("momentum_buffer");
    if (it == state.end()) {
      // The first step's buffer is the gradient itself (no dampening), as PyTorch's.
      it = state.emplace("momentum_buffer", g.clone()).first;
    } else {
      it->second.mul_(options_.momentum).add_(g, 1.0 - options_.dampening);
    }
    const Tensor& buf = it->second;
    g = options_.nesterov ? g + buf * options_.momentum : buf;
  }
  Tensor p = param;
  p.add_(g, -group.lr);
}

std::vector<std::pair<std::string, double>> SGD::hyper_parameters() const {
  return {{"momentum", options_.momentum},
          {"dampening", options_.dampening},
          {"nesterov", options_.nesterov ? 1.0 : 0.0}};
}

void SGD::set_hyper_parameters(const std::map<std::string, double>& values) {
  const double momentum = values.at("momentum"), dampening = values.at("dampening");
  const double nesterov = values.at("nesterov");
  const std::string where = name_ + ".load_state_dict";
  LG_CHECK(nesterov == 0 || nesterov == 1, where, ": nesterov must be 0 or 1, got ", nesterov);
  check_sgd_options(where, momentum, dampening, nesterov == 1);
  LG_CHECK((momentum != 0) == (options_.momentum != 0), where, ": momentum ", momentum,
           " and this optimizer's ", options_.momentum,
           " disagree on whether there is a momentum buffer");
  options_.momentum = momentum;
  options_.dampening = dampening;
  options_.nesterov = nesterov == 1;
}

std::vector<std::string> SGD::state_names() const {
  if (options_.momentum == 0) return {};
  return {"momentum_buffer"};
}

}  // namespace lg::optim
