// Learning-rate schedules and the scheduler that applies them.
#include <lasergrad/nn/lr_scheduler.h>
#include <lasergrad/ops/factory.h>

#include <cmath>
#include <numbers>

namespace lg::optim {

WarmupCosine::WarmupCosine(int64_t warmup, int64_t total, double min_ratio)
    : warmup_steps(warmup), total_steps(total), min_lr_ratio(min_ratio) {
  LG_CHECK(warmup >= 0 && total >= 1 && warmup <= total,
           "WarmupCosine: need 0 <= warmup_steps <= total_steps and total_steps >= 1, got "
           "warmup_steps ",
           warmup, " and total_steps ", total);
  LG_CHECK(min_ratio >= 0 && min_ratio <= 1, "WarmupCosine: min_lr_ratio must be in [0, 1], got ",
           min_ratio);
}

double WarmupCosine::operator()(int64_t step) const {
  LG_CHECK(step >= 0, "WarmupCosine: step must be >= 0, got ", step);
  if (step < warmup_steps) return static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  if (step >= total_steps) return min_lr_ratio;
  const double progress =
      static_cast<double>(step - warmup_steps) / static_cast<double>(total_steps - warmup_steps);
  return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

StepDecay::StepDecay(int64_t size, double g) : step_size(size), gamma(g) {
  LG_CHECK(size >= 1, "StepDecay: step_size must be >= 1, got ", size);
  check_hyper_parameter("StepDecay: ", "gamma", g, 0, true);
}

double StepDecay::operator()(int64_t step) const {
  LG_CHECK(step >= 0, "StepDecay: step must be >= 0, got ", step);
  return std::pow(gamma, static_cast<double>(step / step_size));
}

LRScheduler::LRScheduler(Optimizer& optimizer, Schedule schedule)
    : optimizer_(&optimizer), schedule_(std::move(schedule)) {
  LG_CHECK(static_cast<bool>(schedule_), "LRScheduler: the schedule is empty");
  for (size_t g = 0; g < optimizer.num_groups(); ++g) base_lrs_.push_back(optimizer.lr(g));
  apply();
}

void LRScheduler::step() { set_step(step_ + 1); }

void LRScheduler::set_step(int64_t step) {
  LG_CHECK(step >= 0, "LRScheduler.set_step: step must be >= 0, got ", step);
  const int64_t previous = step_;
  step_ = step;
  try {
    apply();
  } catch (...) {
    step_ = previous;
    throw;
  }
}

void LRScheduler::apply() {
  const double factor = schedule_(step_);
  LG_CHECK(std::isfinite(factor) && factor >= 0, "LRScheduler: the schedule gave ", factor,
           " at step ", step_, "; it must be finite and >= 0");
  for (size_t g = 0; g < base_lrs_.size(); ++g) optimizer_->set_lr(g, base_lrs_[g] * factor);
}

std::vector<double> LRScheduler::last_lr() const {
  std::vector<double> out;
  for (size_t g = 0; g < optimizer_->num_groups(); ++g) out.push_back(optimizer_->lr(g));
  return out;
}

StateDict LRScheduler::state_dict() const {
  return {{"last_step", full({}, step_, {.dtype = kInt64})}, {"base_lrs", from_vector(base_lrs_)}};
}

void LRScheduler::load_state_dict(const StateDict& state) {
  const char* where = "LRScheduler.load_state_dict: ";
  for (const auto& [key, t] : state)
    LG_CHECK(key == "last_step" || key == "base_lrs", where, "unexpected entry ", key);
  LG_CHECK(state.count("last_step") && state.count("base_lrs"), where,
           "needs last_step and base_lrs");
  const Tensor& step = state.at("last_step");
  const Tensor& bases = state.at("base_lrs");
  const int64_t groups = static_cast<int64_t>(base_lrs_.size());
  LG_CHECK(step.defined() && step.dtype() == kInt64 && step.dim() == 0, where,
           "last_step must be an int64 0-d tensor, got ",
           step.defined() ? step.describe() : "undefined");
  LG_CHECK(bases.defined() && bases.dtype() == kFloat64 && bases.shape() == Shape{groups}, where,
           "base_lrs must be float64[", groups, "] (one per group), got ",
           bases.defined() ? bases.describe() : "undefined");
  const int64_t n = step.item<int64_t>();
  LG_CHECK(n >= 0, where, "last_step must be >= 0, got ", n);
  const std::vector<double> loaded = bases.to_vector<double>();
  for (size_t g = 0; g < loaded.size(); ++g)
    check_hyper_parameter(where, "base_lrs[" + std::to_string(g) + "]", loaded[g], 0, false,
                          " (group " + std::to_string(g) + ")");
  const std::vector<double> previous = base_lrs_;
  base_lrs_ = loaded;
  try {
    set_step(n);
  } catch (...) {
    base_lrs_ = previous;
    throw;
  }
}

}  // namespace lg::optim
