// The optimizer base: parameter groups, validation, step's loop, and the
// state dict (saving, and loading with every check made before any change).
#include <lasergrad/core/grad_mode.h>
#include <lasergrad/nn/optimizer.h>
#include <lasergrad/ops/factory.h>
#include <lasergrad/ops/reduction.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <set>

namespace lg::optim {
namespace {

Tensor float64_scalar(double v) { return full({}, v, {.dtype = kFloat64}); }

// "state.12.exp_avg" -> (12, "exp_avg"); nullopt unless `prefix` then an index then '.'.
std::optional<std::pair<size_t, std::string>> split_indexed(const std::string& key,
                                                            const std::string& prefix) {
  if (key.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  const char* begin = key.data() + prefix.size();
  const char* end = key.data() + key.size();
  size_t index = 0;
  auto [next, ec] = std::from_chars(begin, end, index);
  if (ec != std::errc() || next == begin || next == end || *next != '.') return std::nullopt;
  return std::make_pair(index, std::string(next + 1, end));
}

// First element of t (flattened) that is NaN or inf, or < 0 with
// non_negative; -1 if none. Whole-tensor checks first: loads stay cheap.
int64_t first_bad_element(const Tensor& t, bool non_negative, double* value) {
  NoGradGuard no_grad;
  if (t.numel() == 0 || (t.all_finite() && (!non_negative || min(t).item<double>() >= 0)))
    return -1;
  const std::vector<double> v = t.to_vector<double>();
  for (size_t e = 0; e < v.size(); ++e) {
    if (std::isfinite(v[e]) && (!non_negative || v[e] >= 0)) continue;
    *value = v[e];
    return static_cast<int64_t>(e);
  }
  return -1;
}

}  // namespace

void check_hyper_parameter(const std::string& where, const std::string& field, double value,
                           double lo, bool strict, const std::string& suffix) {
  const bool ok = std::isfinite(value) && (strict ? value > lo : value >= lo);
  LG_CHECK(ok, where, field, " must be ", strict ? "> " : ">= ", lo, " and finite, got ", value,
           suffix);
}

Optimizer::Optimizer(std::string name, std::vector<ParamGroup> groups, double lr,
                     double weight_decay)
    : name_(std::move(name)) {
  size_t total = 0;
  std::set<const TensorImpl*> seen;
  for (size_t g = 0; g < groups.size(); ++g) {
    ParamGroup& in = groups[g];
    Group group{std::move(in.params), in.lr.value_or(lr), in.weight_decay.value_or(weight_decay)};
    const std::string for_group = " for group " + std::to_string(g);
    check_hyper_parameter(name_ + ": ", "lr", group.lr, 0, false, for_group);
    check_hyper_parameter(name_ + ": ", "weight_decay", group.weight_decay, 0, false, for_group);
    for (size_t k = 0; k < group.params.size(); ++k) {
      const Tensor& p = group.params[k];
      LG_CHECK(p.defined(), name_, ": parameter ", k, " of group ", g, " is an undefined tensor");
      LG_CHECK(is_floating(p.dtype()), name_, ": parameter ", k, " of group ", g,
               " must be floating-point, got ", p.describe());
      LG_CHECK(p.is_leaf(), name_, ": parameter ", k, " of group ", g, " (", p.describe(),
               ") is not a leaf tensor (it has a grad_fn); optimize the leaf it came from");
      LG_CHECK(seen.insert(p.impl()).second, name_, ": parameter ", k, " of group ", g, " (",
               p.describe(), ") appears more than once");
    }
    total += group.params.size();
    groups_.push_back(std::move(group));
  }
  LG_CHECK(total > 0, name_, ": got an empty parameter list");
  state_.resize(total);
}

void Optimizer::zero_grad() {
  for (const Group& group : groups_)
    for (const Tensor& p : group.params) p.zero_grad();
}

void Optimizer::step() {
  NoGradGuard no_grad;
  size_t index = 0;
  for (const Group& group : groups_) {
    for (const Tensor& p : group.params) {
      State& state = state_[index++];
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      LG_CHECK(
          grad.shape() == p.shape() && grad.dtype() == p.dtype() && grad.device() == p.device(),
          name_, ".step: parameter ", index - 1, " is ", p.describe(), " but its gradient is ",
          grad.describe());
      update(group, p, grad, state);
    }
  }
}

void Optimizer::check_state_values(const std::string& key, size_t param, const std::string& name,
                                   const Tensor& t) const {
  const std::string where = name_ + ".load_state_dict: ";
  if (name == "step") {
    const int64_t step = t.item<int64_t>();
    LG_CHECK(step >= 0, where, key, " (parameter ", param, ") must be >= 0, got ", step);
    return;
  }
  const auto non_negative = non_negative_state_names();
  const bool must_be_non_negative =
      std::find(non_negative.begin(), non_negative.end(), name) != non_negative.end();
  double value = 0;
  const int64_t bad = first_bad_element(t, must_be_non_negative, &value);
  LG_CHECK(bad < 0, where, key, " (parameter ", param, ") must be finite",
           must_be_non_negative ? " and >= 0" : "", ", got ", value, " at element ", bad);
}

void Optimizer::check_group(size_t group, const char* what) const {
  LG_CHECK(group < groups_.size(), name_, ".", what, ": group ", group, " out of range (",
           groups_.size(), " groups)");
}

double Optimizer::lr() const { return groups_.front().lr; }

void Optimizer::set_lr(double lr) {
  for (size_t g = 0; g < groups_.size(); ++g) set_lr(g, lr);
}

const std::vector<Tensor>& Optimizer::params(size_t group) const {
  check_group(group, "params");
  return groups_[group].params;
}

double Optimizer::lr(size_t group) const {
  check_group(group, "lr");
  return groups_[group].lr;
}

void Optimizer::set_lr(size_t group, double lr) {
  check_group(group, "set_lr");
  check_hyper_parameter(name_ + ".set_lr: ", "lr", lr, 0);
  groups_[group].lr = lr;
}

double Optimizer::weight_decay(size_t group) const {
  check_group(group, "weight_decay");
  return groups_[group].weight_decay;
}

void Optimizer::set_weight_decay(size_t group, double weight_decay) {
  check_group(group, "set_weight_decay");
  check_hyper_parameter(name_ + ".set_weight_decay: ", "weight_decay", weight_decay, 0);
  groups_[group].weight_decay = weight_decay;
}

StateDict Optimizer::state_dict() const {
  NoGradGuard no_grad;
  StateDict out;
  for (size_t i = 0; i < state_.size(); ++i)
    for (const auto& [name, t] : state_[i])
      out["state." + std::to_string(i) + "." + name] = t.detach().clone();
  const auto hyper = hyper_parameters();
  int64_t first = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = "param_groups." + std::to_string(g) + ".";
    const int64_t n = static_cast<int64_t>(groups_[g].params.size());
    out[prefix + "params"] = arange(first, first + n);
    first += n;
    out[prefix + "lr"] = float64_scalar(groups_[g].lr);
    out[prefix + "weight_decay"] = float64_scalar(groups_[g].weight_decay);
    for (const auto& [name, value] : hyper) out[prefix + name] = float64_scalar(value);
  }
  return out;
}

void Optimizer::load_state_dict(const StateDict& dict) {
  const std::string where = name_ + ".load_state_dict: ";
  // Parameter index -> its group, and where each group's indices start.
  std::vector<size_t> group_of;
  std::vector<int64_t> group_first;
  for (size_t g = 0; g < groups_.size(); ++g) {
    group_first.push_back(static_cast<int64_t>(group_of.size()));
    group_of.insert(group_of.end(), groups_[g].params.size(), g);
  }
  auto param = [&](size_t i) -> const Tensor& {
    const size_t g = group_of[i];
    return groups_[g].params[i - static_cast<size_t>(group_first[g])];
  };
  const std::vector<std::string> names = state_names();
  const std::set<std::string> known(names.begin(), names.end());
  const auto hyper = hyper_parameters();

  std::vector<State> state(state_.size());
  std::vector<double> lrs(groups_.size()), decays(groups_.size());
  std::map<std::string, double> hyper_values;
  std::vector<bool> group_seen(groups_.size(), false);

  auto scalar_f64 = [&](const std::string& key, const Tensor& t) {
    LG_CHECK(t.dtype() == kFloat64 && t.dim() == 0, where, key,
             " must be a float64 0-d tensor, got ", t.describe());
    return t.item<double>();
  };

  for (const auto& [key, t] : dict) {
    LG_CHECK(t.defined(), where, key, " is an undefined tensor");
    if (auto s = split_indexed(key, "state.")) {
      const auto& [i, name] = *s;
      LG_CHECK(i < state_.size(), where, key, ": parameter index ", i, " out of range (",
               state_.size(), " parameters)");
      LG_CHECK(known.count(name), where, key, ": ", name_, " keeps no state named '", name, "'");
      const Tensor& p = param(i);
      if (name == "step") {
        LG_CHECK(t.dtype() == kInt64 && t.dim() == 0, where, key,
                 " must be an int64 0-d tensor, got ", t.describe());
      } else {
        LG_CHECK(t.shape() == p.shape() && t.dtype() == p.dtype(), where, key, " is ", t.describe(),
                 " but parameter ", i, " is ", p.describe());
      }
      check_state_values(key, i, name, t);
      state[i][name] = t;
    } else if (auto s = split_indexed(key, "param_groups.")) {
      const auto& [g, name] = *s;
      LG_CHECK(g < groups_.size(), where, key, ": group index ", g, " out of range (",
               groups_.size(), " groups)");
      group_seen[g] = true;
      if (name == "params") {
        const int64_t n = static_cast<int64_t>(groups_[g].params.size());
        bool ok = t.dtype() == kInt64 && t.shape() == Shape{n};
        if (ok) {
          const std::vector<int64_t> ids = t.to_vector<int64_t>();
          for (int64_t k = 0; k < n; ++k) ok = ok && ids[k] == group_first[g] + k;
        }
        LG_CHECK(ok, where, key, " is ", t.describe(), " but group ", g, " holds parameters ",
                 group_first[g], "..", group_first[g] + n - 1, " (int64[", n,
                 "]): the checkpoint's groups differ from this optimizer's");
      } else if (name == "lr") {
        lrs[g] = scalar_f64(key, t);
      } else if (name == "weight_decay") {
        decays[g] = scalar_f64(key, t);
      } else {
        bool is_hyper = false;
        for (const auto& h : hyper) is_hyper = is_hyper || h.first == name;
        LG_CHECK(is_hyper, where, "unexpected entry ", key);
        const double v = scalar_f64(key, t);
        auto [it, fresh] = hyper_values.emplace(name, v);
        // NaN never equals itself, so compare bits: a NaN written by us loads back.
        LG_CHECK(fresh || std::memcmp(&it->second, &v, sizeof v) == 0, where, key, " = ", v,
                 " differs from another group's ", name, " = ", it->second, "; ", name_,
                 " keeps one ", name, " for all groups");
      }
    } else {
      detail::fail(where, "unexpected entry ", key);
    }
  }
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = "param_groups." + std::to_string(g) + ".";
    LG_CHECK(group_seen[g], where, "missing group ", g, " (the checkpoint has fewer groups than ",
             "this optimizer's ", groups_.size(), ")");
    for (const char* name : {"params", "lr", "weight_decay"})
      LG_CHECK(dict.count(prefix + name), where, "missing ", prefix, name);
    for (const auto& h : hyper)
      LG_CHECK(dict.count(prefix + h.first), where, "missing ", prefix, h.first);
    check_hyper_parameter(where, prefix + "lr", lrs[g], 0);
    check_hyper_parameter(where, prefix + "weight_decay", decays[g], 0);
  }
  for (size_t i = 0; i < state.size(); ++i) {
    if (state[i].empty()) continue;
    for (const std::string& name : names)
      LG_CHECK(state[i].count(name), where, "parameter ", i, " has state but no state.", i, ".",
               name);
  }
  // Checked: now change things. The hyper-parameter setter validates values
  // before it assigns any, so a throw there leaves the optimizer unchanged too.
  if (!hyper.empty()) set_hyper_parameters(hyper_values);
  NoGradGuard no_grad;
  for (size_t i = 0; i < state.size(); ++i) {
    for (auto& [name, t] : state[i]) {
      const Device device = name == "step" ? Device::cpu() : param(i).device();
      Tensor copy = empty(t.shape(), {.dtype = t.dtype(), .device = device});
      copy.copy_(t);
      t = copy;
    }
  }
  state_ = std::move(state);
  for (size_t g = 0; g < groups_.size(); ++g) {
    groups_[g].lr = lrs[g];
    groups_[g].weight_decay = decays[g];
  }
}

}  // namespace lg::optim
