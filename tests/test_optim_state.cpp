// Optimizer and scheduler state from a file is not trusted: load_state_dict
// rejects values that would turn the weights into NaN or inf on the next step
// (an infinite lr, a negative step, a negative exp_avg_sq, ...), naming the
// field and its value, and leaves the optimizer unchanged. Constructors and
// setters apply the same ranges to the hyper-parameters they are given.
#include <lasergrad/nn/lr_scheduler.h>
#include <lasergrad/nn/optimizer.h>

#include "test_util.h"

using namespace lg;

namespace {

Tensor param(std::vector<double> values) {
  Tensor t = from_vector(values, {static_cast<int64_t>(values.size())}, {.dtype = kFloat64});
  t.requires_grad_();
  return t;
}

Tensor f64(double v) { return full({}, v, {.dtype = kFloat64}); }
Tensor i64(int64_t v) { return full({}, v, {.dtype = kInt64}); }

// Element 1 of a copy of t set to `value`.
Tensor with_element(const Tensor& t, double value) {
  Tensor copy = t.clone();
  NoGradGuard no_grad;
  copy.select(0, 1).fill_(value);
  return copy;
}

// A state dict from two real steps of `opt` on parameters of shape [3].
template <class Opt>
StateDict trained_state(Opt& opt, const Tensor& p) {
  for (int k = 0; k < 2; ++k) {
    p.set_grad(from_vector(std::vector<double>{0.5, -1.0, 2.0}, {3}, {.dtype = kFloat64}));
    opt.step();
  }
  return opt.state_dict();
}

StateDict replaced(StateDict d, const std::string& key, const Tensor& t) {
  d[key] = t;
  return d;
}

// The load failed and changed nothing: a step still gives finite weights.
template <class Opt>
void check_unchanged_and_finite(Opt& opt, const Tensor& p, double lr) {
  CHECK(opt.lr() == lr);
  CHECK(opt.state_dict().count("state.0.step") == 0);
  p.set_grad(ones({3}, {.dtype = kFloat64}));
  opt.step();
  CHECK(p.all_finite());
}

}  // namespace

TEST_CASE("Adam.load_state_dict rejects hyper-parameters that break the next step") {
  Tensor p = param({1, 2, 3});
  optim::AdamW source({p}, {.lr = 0.1});
  const StateDict good = trained_state(source, p);
  Tensor q = param({1, 2, 3});
  optim::AdamW fresh({q}, {.lr = 0.5});
  auto load = [&](const std::string& key, const Tensor& t) {
    fresh.load_state_dict(replaced(good, key, t));
  };
  CHECK_ERROR(load("param_groups.0.lr", f64(INFINITY)), "AdamW.load_state_dict",
              "param_groups.0.lr", "inf");
  CHECK_ERROR(load("param_groups.0.lr", f64(NAN)), "param_groups.0.lr", "nan");
  CHECK_ERROR(load("param_groups.0.weight_decay", f64(INFINITY)), "param_groups.0.weight_decay",
              "inf");
  CHECK_ERROR(load("param_groups.0.eps", f64(0)), "eps", "> 0", "got 0");
  CHECK_ERROR(load("param_groups.0.eps", f64(INFINITY)), "eps", "inf");
  CHECK_ERROR(load("param_groups.0.beta1", f64(1.0)), "beta1", "[0, 1)", "got 1");
  CHECK_ERROR(load("param_groups.0.beta2", f64(NAN)), "beta2", "nan");
  check_unchanged_and_finite(fresh, q, 0.5);
}

TEST_CASE("Adam.load_state_dict rejects per-parameter state that breaks the next step") {
  Tensor p = param({1, 2, 3});
  optim::Adam source({p}, {.lr = 0.1});
  const StateDict good = trained_state(source, p);
  Tensor q = param({1, 2, 3});
  optim::Adam fresh({q}, {.lr = 0.5});
  auto load = [&](const std::string& key, const Tensor& t) {
    fresh.load_state_dict(replaced(good, key, t));
  };
  CHECK_ERROR(load("state.0.step", i64(-5)), "Adam.load_state_dict", "state.0.step", "parameter 0",
              ">= 0", "-5");
  Tensor v = good.at("state.0.exp_avg_sq");
  CHECK_ERROR(load("state.0.exp_avg_sq", with_element(v, -1.0)), "state.0.exp_avg_sq",
              "parameter 0", "element 1", "-1");
  CHECK_ERROR(load("state.0.exp_avg_sq", with_element(v, INFINITY)), "state.0.exp_avg_sq",
              "element 1", "inf");
  CHECK_ERROR(load("state.0.exp_avg", with_element(good.at("state.0.exp_avg"), NAN)),
              "state.0.exp_avg", "element 1", "nan");
  check_unchanged_and_finite(fresh, q, 0.5);
  // The untouched checkpoint still loads.
  fresh.load_state_dict(good);
  CHECK(fresh.lr() == doctest::Approx(0.1));
}

TEST_CASE("SGD.load_state_dict rejects infinite hyper-parameters and momentum buffers") {
  Tensor p = param({1, 2, 3});
  optim::SGD source({p}, {.lr = 0.1, .momentum = 0.9});
  const StateDict good = trained_state(source, p);
  Tensor q = param({1, 2, 3});
  optim::SGD fresh({q}, {.lr = 0.5, .momentum = 0.5});
  auto load = [&](const std::string& key, const Tensor& t) {
    fresh.load_state_dict(replaced(good, key, t));
  };
  CHECK_ERROR(load("param_groups.0.lr", f64(INFINITY)), "SGD.load_state_dict", "param_groups.0.lr",
              "inf");
  CHECK_ERROR(load("param_groups.0.momentum", f64(INFINITY)), "momentum", "inf");
  CHECK_ERROR(load("param_groups.0.dampening", f64(NAN)), "dampening", "nan");
  Tensor buf = good.at("state.0.momentum_buffer");
  CHECK_ERROR(load("state.0.momentum_buffer", with_element(buf, -INFINITY)),
              "state.0.momentum_buffer", "element 1", "-inf");
  check_unchanged_and_finite(fresh, q, 0.5);
}

TEST_CASE("optimizer constructors and setters reject infinite or NaN hyper-parameters") {
  Tensor p = param({1, 2, 3});
  CHECK_ERROR(optim::Adam({p}, {.lr = INFINITY}), "Adam", "lr", "inf", "group 0");
  CHECK_ERROR(optim::AdamW({{.params = {p}, .lr = NAN}}), "AdamW", "lr", "nan", "group 0");
  CHECK_ERROR(optim::Adam({p}, {.weight_decay = INFINITY}), "weight_decay", "inf");
  CHECK_ERROR(optim::Adam({p}, {.eps = 0}), "Adam", "eps", "> 0", "got 0");
  CHECK_ERROR(optim::Adam({p}, {.eps = INFINITY}), "Adam", "eps", "inf");
  CHECK_ERROR(optim::SGD({p}, {.momentum = INFINITY}), "SGD", "momentum", "inf");
  CHECK_ERROR(optim::SGD({p}, {.momentum = 0.9, .dampening = NAN}), "SGD", "dampening", "nan");
  optim::SGD opt({p});
  CHECK_ERROR(opt.set_lr(INFINITY), "SGD.set_lr", "inf");
  CHECK_ERROR(opt.set_weight_decay(0, NAN), "SGD.set_weight_decay", "nan");
  CHECK(opt.lr() == doctest::Approx(1e-3));
}

TEST_CASE("LRScheduler.load_state_dict and schedules reject non-finite values") {
  Tensor p = param({1, 2, 3});
  optim::SGD opt({p}, {.lr = 0.1});
  optim::LRScheduler sched(opt, optim::Constant{});
  StateDict good = sched.state_dict();
  CHECK_ERROR(
      sched.load_state_dict(replaced(good, "base_lrs", from_vector(std::vector<double>{INFINITY}))),
      "LRScheduler.load_state_dict", "base_lrs", "group 0", "inf");
  CHECK_ERROR(
      sched.load_state_dict(replaced(good, "base_lrs", from_vector(std::vector<double>{NAN}))),
      "base_lrs", "nan");
  CHECK_ERROR(sched.load_state_dict(replaced(good, "last_step", i64(-5))), "last_step", "-5");
  CHECK(opt.lr() == doctest::Approx(0.1));
  CHECK_ERROR(optim::StepDecay(10, INFINITY), "StepDecay", "gamma", "inf");
  CHECK_ERROR(optim::WarmupCosine(1, 10, NAN), "WarmupCosine", "min_lr_ratio", "nan");
}
