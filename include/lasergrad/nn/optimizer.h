// Optimizers (namespace lg::optim): SGD, Adam, AdamW with PyTorch's update
// rules, parameter groups, and state dicts for checkpoints and resume.
//
//   optim::AdamW opt(model.parameters(), {.lr = 3e-4, .weight_decay = 0.1});
//   opt.zero_grad(); loss.backward(); nn::clip_grad_norm(model.parameters(), 1.0);
//   opt.step();
//
// Groups: each ParamGroup may set its own lr and weight_decay; what it leaves
// unset comes from the options. No decay for biases and norms:
//
//   optim::AdamW opt({{.params = decay}, {.params = no_decay, .weight_decay = 0.0}},
//                    {.lr = 3e-4, .weight_decay = 0.1});
//
// Other hyper-parameters (betas, eps, momentum, ...) are one per optimizer.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../core/tensor.h"
#include "../ops/adam_step.h"
#include "state_dict.h"

namespace lg::optim {

struct ParamGroup {
  std::vector<Tensor> params = {};
  std::optional<double> lr = {};
  std::optional<double> weight_decay = {};
};

// The base: groups, per-parameter state, zero_grad, step, lr access and state
// dicts. A parameter is a floating-point leaf tensor (it need not require
// grad: one without a gradient is skipped by step()); it may appear only once.
//
// State dict layout (PyTorch's, flattened into named tensors; parameter index
// i counts across groups in order):
//   state.<i>.<name>           per-parameter state, e.g. state.3.exp_avg; a
//                              parameter that never had a gradient has none.
//                              "step" is an int64 0-d tensor on the CPU, every
//                              other entry a tensor like its parameter.
//   param_groups.<g>.params    int64 [n]: the indices i of the group's parameters
//   param_groups.<g>.lr, .weight_decay, and the optimizer's other
//                              hyper-parameters (.beta1, .momentum, ...): float64 0-d
// state_dict() returns copies (a snapshot); load_state_dict() checks every
// name, shape and dtype before it changes anything, then copies the values
// onto the parameters' devices and restores all hyper-parameters. A file is
// not trusted: the loaded hyper-parameters must lie in the ranges the
// constructors accept (lr and weight_decay finite and >= 0, ...), "step" must
// be >= 0, every state tensor finite and exp_avg_sq >= 0, or the load throws
// lg::Error naming the entry, the parameter and the value.
// Throws "<where><field> must be >= lo and finite, got <value><suffix>" (or
// "> lo" when strict) unless value is in that range. NaN and inf never are: an
// infinite lr, momentum or eps turns the weights into NaN on the next step.
void check_hyper_parameter(const std::string& where, const std::string& field, double value,
                           double lo, bool strict = false, const std::string& suffix = "");

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;  // state tensors would be shared
  Optimizer& operator=(const Optimizer&) = delete;
  Optimizer(Optimizer&&) = default;
  Optimizer& operator=(Optimizer&&) = default;

  // Resets every parameter's .grad to undefined (PyTorch's set_to_none).
  void zero_grad();
  // One update of every parameter that has a gradient, under NoGradGuard; the
  // parameters change in place (their version counters are bumped).
  void step();

  // The first group's lr (what a trainer logs); set_lr sets every group's.
  double lr() const;
  void set_lr(double lr);

  size_t num_groups() const { return groups_.size(); }
  const std::vector<Tensor>& params(size_t group) const;
  double lr(size_t group) const;
  void set_lr(size_t group, double lr);
  double weight_decay(size_t group) const;
  void set_weight_decay(size_t group, double weight_decay);

  StateDict state_dict() const;
  void load_state_dict(const StateDict& state);

  const std::string& name() const { return name_; }  // "AdamW", for messages

 protected:
  struct Group {
    std::vector<Tensor> params;
    double lr = 0;
    double weight_decay = 0;
  };
  using State = std::map<std::string, Tensor>;

  Optimizer(std::string name, std::vector<ParamGroup> groups, double lr, double weight_decay);

  // Updates one parameter from its gradient (same shape, dtype and device,
  // checked) and its state (empty on the first step: fill it).
  virtual void update(const Group& group, const Tensor& param, const Tensor& grad,
                      State& state) = 0;
  // The optimizer-wide hyper-parameters by name (booleans as 0 or 1), and
  // their setter for load_state_dict (which validates like the constructor).
  virtual std::vector<std::pair<std::string, double>> hyper_parameters() const = 0;
  virtual void set_hyper_parameters(const std::map<std::string, double>& values) = 0;
  // The names of a parameter's state once it has one (e.g. exp_avg, exp_avg_sq, step).
  virtual std::vector<std::string> state_names() const = 0;
  // The state entries that are >= 0 by construction (Adam's exp_avg_sq).
  virtual std::vector<std::string> non_negative_state_names() const { return {}; }

  void check_group(size_t group, const char* what) const;
  // Checks a loaded state tensor's values; `key` is its state-dict name.
  void check_state_values(const std::string& key, size_t param, const std::string& name,
                          const Tensor& t) const;

  std::string name_;
  std::vector<Group> groups_;
  std::vector<State> state_;  // by parameter index across groups
};

// ---- SGD ----
// PyTorch's SGD: g = grad + weight_decay * p; with momentum, buf = g on the
// first step and buf = momentum * buf + (1 - dampening) * g after, and g =
// buf (or g + momentum * buf with nesterov); p -= lr * g. PyTorch has no
// default lr; ours is 1e-3 like Adam's. nesterov needs momentum > 0 and
// dampening 0. lr, momentum, dampening and weight_decay are finite (all but
// dampening >= 0). State: state.<i>.momentum_buffer (with momentum only).
struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, SGDOptions options = {});
  SGD(std::vector<ParamGroup> groups, SGDOptions options = {});
  const SGDOptions& options() const { return options_; }  // lr and weight_decay: defaults

 protected:
  void update(const Group& group, const Tensor& param, const Tensor& grad, State& state) override;
  std::vector<std::pair<std::string, double>> hyper_parameters() const override;
  void set_hyper_parameters(const std::map<std::string, double>& values) override;
  std::vector<std::string> state_names() const override;

 private:
  SGDOptions options_;
};

// ---- Adam and AdamW ----
// PyTorch's Adam (weight decay as L2: grad + weight_decay * p) and AdamW
// (decoupled: p *= 1 - lr * weight_decay first), bias-corrected; see
// AdamStepArgs in ops/adam_step.h for the formulas. State: state.<i>.exp_avg,
// .exp_avg_sq (like the parameter) and .step (int64 0-d, CPU).
//
// The step is lg::adam_step per parameter: one fused kernel pass where the
// device has that kernel and param and grad are contiguous; otherwise (CUDA
// today, strided parameters or gradients) adam_step_reference, the same
// update in in-place tensor ops.
//
// lr, weight_decay and eps are finite, eps > 0 (PyTorch accepts 0, but then a
// parameter whose gradients have all been 0 so far becomes 0 / 0 = NaN), and
// beta1, beta2 in [0, 1).
struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, AdamOptions options = {});
  Adam(std::vector<ParamGroup> groups, AdamOptions options = {});
  const AdamOptions& options() const { return options_; }

 protected:
  Adam(std::string name, std::vector<ParamGroup> groups, AdamOptions options, bool decoupled);
  void update(const Group& group, const Tensor& param, const Tensor& grad, State& state) override;
  std::vector<std::pair<std::string, double>> hyper_parameters() const override;
  void set_hyper_parameters(const std::map<std::string, double>& values) override;
  std::vector<std::string> state_names() const override;
  std::vector<std::string> non_negative_state_names() const override { return {"exp_avg_sq"}; }

 private:
  AdamOptions options_;
  bool decoupled_;
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, AdamWOptions options = {});
  AdamW(std::vector<ParamGroup> groups, AdamWOptions options = {});
};

}  // namespace lg::optim
