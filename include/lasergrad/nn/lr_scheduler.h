// Learning-rate schedules (namespace lg::optim). A schedule maps a step
// (0, 1, 2, ...) to a multiplier of each group's base lr; LRScheduler applies
// it to an optimizer:
//
//   optim::AdamW opt(model.parameters(), {.lr = 3e-4});
//   optim::LRScheduler sched(opt, optim::WarmupCosine{100, 5000, 0.1});
//   for (int64_t step = 0; step < 5000; ++step) {
//     ... loss.backward(); opt.step(); sched.step();
//   }
//
// The scheduler sets the lr for step 0 when constructed, so the optimizer's
// k-th step (0-based) runs at base_lr * schedule(k), as with PyTorch's
// LambdaLR. Any callable double(int64_t) is a schedule.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "optimizer.h"
#include "state_dict.h"

namespace lg::optim {

using Schedule = std::function<double(int64_t step)>;

// Linear warmup from 1/warmup_steps of the lr (step 0) to the full lr (step
// warmup_steps - 1), then a half cosine from the full lr (step warmup_steps)
// to min_lr_ratio * lr at total_steps, and min_lr_ratio * lr after. Needs
// 0 <= warmup_steps <= total_steps, total_steps >= 1, min_lr_ratio in [0, 1].
struct WarmupCosine {
  WarmupCosine(int64_t warmup_steps, int64_t total_steps, double min_lr_ratio = 0.0);
  double operator()(int64_t step) const;
  int64_t warmup_steps;
  int64_t total_steps;
  double min_lr_ratio;
};

// gamma^(step / step_size) with integer division: PyTorch's StepLR.
// Needs step_size >= 1 and gamma > 0.
struct StepDecay {
  StepDecay(int64_t step_size, double gamma);
  double operator()(int64_t step) const;
  int64_t step_size;
  double gamma;
};

// Always 1: the base lr. (Not PyTorch's ConstantLR, which scales by a factor
// for a number of steps.)
struct Constant {
  double operator()(int64_t) const { return 1.0; }
};

// Binds an optimizer (which must outlive it and stay in place) and a schedule.
// The base lrs are the groups' lrs at construction.
class LRScheduler {
 public:
  LRScheduler(Optimizer& optimizer, Schedule schedule);

  // Advances to the next step and sets every group's lr.
  void step();
  // Jumps to `step` (>= 0) and sets every group's lr (for resuming).
  void set_step(int64_t step);
  int64_t last_step() const { return step_; }
  // The lr of every group as last set.
  std::vector<double> last_lr() const;
  const std::vector<double>& base_lrs() const { return base_lrs_; }

  // "last_step" (int64 0-d) and "base_lrs" (float64 [groups]). Loading checks
  // the group count, restores both and sets the lrs, so resuming works
  // whichever of the optimizer's and the scheduler's state is loaded first.
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state);

 private:
  void apply();

  Optimizer* optimizer_;
  Schedule schedule_;
  std::vector<double> base_lrs_;
  int64_t step_ = 0;
};

}  // namespace lg::optim
