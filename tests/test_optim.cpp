// Optimizers (SGD, Adam, AdamW) against their update formulas written out in
// plain double arithmetic, parameter groups, the fused Adam kernel against its
// reference, state dicts and resume, LR schedules, gradient clipping, and
// the error paths.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>
#include <lasergrad/nn/clip_grad.h>
#include <lasergrad/nn/lr_scheduler.h>
#include <lasergrad/nn/optimizer.h>

#include <cmath>
#include <cstring>
#include <numbers>

#include "core/kernels.h"
#include "test_util.h"

using namespace lg;
using Vec = std::vector<double>;

namespace {

Vec random_vec(int64_t n) { return randn({n}, {.dtype = kFloat64}).to_vector<double>(); }

std::vector<Vec> random_grads(int steps, int64_t n) {
  std::vector<Vec> out;
  for (int k = 0; k < steps; ++k) out.push_back(random_vec(n));
  return out;
}

Tensor leaf(const Vec& v) {
  Tensor t = from_vector(v);
  t.requires_grad_();
  return t;
}

void set_grad(const Tensor& p, const Vec& g) { p.set_grad(from_vector(g).view(p.shape())); }


// Same dtype, shape and bytes.
bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.raw_data(), cb.raw_data(), ca.numel() * element_size(ca.dtype())) == 0;
}

// ---- the update rules, by hand ----

// The constructors are out of line: inlined, GCC 12 at -O3 reports a false
// -Wfree-nonheap-object on the vectors they allocate.
struct SgdRef {
  [[gnu::noinline]] SgdRef(const optim::SGDOptions& o, const Vec& p0)
      : o(o), p(p0), buf(p0.size(), 0.0) {}
  void step(const Vec& grad) {
    for (size_t i = 0; i < p.size(); ++i) {
      double g = grad[i] + o.weight_decay * p[i];
      if (o.momentum != 0) {
        buf[i] = started ? o.momentum * buf[i] + (1 - o.dampening) * g : g;
        g = o.nesterov ? g + o.momentum * buf[i] : buf[i];
      }
      p[i] -= o.lr * g;
    }
    started = true;
  }
  optim::SGDOptions o;
  Vec p, buf;
  bool started = false;
};

struct AdamRef {
  [[gnu::noinline]] AdamRef(double lr, double beta1, double beta2, double eps, double weight_decay,
                            bool decoupled, const Vec& p0)
      : lr(lr),
        beta1(beta1),
        beta2(beta2),
        eps(eps),
        weight_decay(weight_decay),
        decoupled(decoupled),
        p(p0),
        m(p0.size(), 0.0),
        v(p0.size(), 0.0) {}
  void step(const Vec& grad) {
    ++t;
    const double bc1 = 1 - std::pow(beta1, t), bc2 = 1 - std::pow(beta2, t);
    for (size_t i = 0; i < p.size(); ++i) {
      double g = grad[i];
      if (decoupled)
        p[i] *= 1 - lr * weight_decay;
      else
        g += weight_decay * p[i];
      m[i] = beta1 * m[i] + (1 - beta1) * g;
      v[i] = beta2 * v[i] + (1 - beta2) * g * g;
      const double m_hat = m[i] / bc1, v_hat = v[i] / bc2;
      p[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
  }
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;
  Vec p, m, v;
  int t = 0;
};

constexpr double kTol64 = 1e-13;

}  // namespace

TEST_CASE("SGD matches its formula: plain, momentum, dampening, nesterov, weight decay") {
  manual_seed(11);
  const int64_t n = 9;
  const optim::SGDOptions cases[] = {
      {.lr = 0.1},
      {.lr = 0.05, .momentum = 0.9},
      {.lr = 0.05, .momentum = 0.8, .dampening = 0.3},
      {.lr = 0.02, .momentum = 0.9, .nesterov = true},
      {.lr = 0.1, .weight_decay = 0.05},
      {.lr = 0.03, .momentum = 0.7, .dampening = 0.1, .weight_decay = 0.2},
      {.lr = 0.03, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true},
  };
  for (const optim::SGDOptions& o : cases) {
    INFO("momentum " << o.momentum << " dampening " << o.dampening << " nesterov " << o.nesterov
                     << " weight_decay " << o.weight_decay);
    const Vec p0 = random_vec(n);
    const auto grads = random_grads(5, n);
    Tensor p = leaf(p0);
    optim::SGD opt({p}, o);
    SgdRef ref(o, p0);
    for (const Vec& g : grads) {
      opt.zero_grad();
      set_grad(p, g);
      opt.step();
      ref.step(g);
      check_close(p, ref.p, kTol64);
    }
  }
}

TEST_CASE("Adam and AdamW match their formulas over several steps") {
  manual_seed(12);
  const int64_t n = 13;
  for (bool decoupled : {false, true}) {
    for (double wd : {0.0, 0.1}) {
      CAPTURE(decoupled);
      CAPTURE(wd);
      const Vec p0 = random_vec(n);
      const auto grads = random_grads(6, n);
      Tensor p = leaf(p0);
      const optim::AdamOptions o{
          .lr = 0.01, .beta1 = 0.8, .beta2 = 0.95, .eps = 1e-6, .weight_decay = wd};
      std::unique_ptr<optim::Optimizer> opt;
      if (decoupled)
        opt = std::make_unique<optim::AdamW>(
            std::vector<Tensor>{p}, optim::AdamWOptions{o.lr, o.beta1, o.beta2, o.eps, wd});
      else
        opt = std::make_unique<optim::Adam>(std::vector<Tensor>{p}, o);
      AdamRef ref(0.01, 0.8, 0.95, 1e-6, wd, decoupled, p0);
      for (const Vec& g : grads) {
        const uint64_t version = p.version();
        set_grad(p, g);
        opt->step();
        ref.step(g);
        CHECK(p.version() > version);  // in place, visible to autograd's checks
        check_close(p, ref.p, kTol64);
      }
    }
  }
}

TEST_CASE("AdamW defaults and its options as designated initialisers") {
  manual_seed(13);
  Tensor w = leaf(random_vec(6));
  const Vec w0 = w.to_vector<double>();
  optim::AdamW opt({w}, {.lr = 3e-4, .weight_decay = 0.1});
  CHECK(opt.lr() == 3e-4);
  CHECK(opt.weight_decay(0) == 0.1);
  CHECK(opt.name() == "AdamW");
  optim::AdamW defaults({w});
  CHECK(defaults.weight_decay(0) == 1e-2);
  opt.zero_grad();
  Tensor loss = sum(w * w);
  loss.backward();
  nn::clip_grad_norm({w}, 1.0);
  opt.step();
  AdamRef ref(3e-4, 0.9, 0.999, 1e-8, 0.1, true, w0);
  Vec g(6);
  for (int i = 0; i < 6; ++i) g[i] = 2 * w0[i];
  double norm = 0;
  for (double x : g) norm += x * x;
  norm = std::sqrt(norm);
  if (norm > 1.0)
    for (double& x : g) x *= 1.0 / (norm + 1e-6);
  ref.step(g);
  check_close(w, ref.p, 1e-12);
}

TEST_CASE("parameter groups: per-group lr and weight decay, missing grads skipped") {
  manual_seed(14);
  const Vec a0 = random_vec(5), b0 = random_vec(4), c0 = random_vec(3);
  Tensor a = leaf(a0), b = leaf(b0), c = leaf(c0);
  optim::AdamW opt({{.params = {a, c}}, {.params = {b}, .lr = 0.05, .weight_decay = 0.0}},
                   {.lr = 0.01, .weight_decay = 0.2});
  CHECK(opt.num_groups() == 2);
  CHECK(opt.lr(1) == 0.05);
  CHECK(opt.weight_decay(0) == 0.2);
  AdamRef ra(0.01, 0.9, 0.999, 1e-8, 0.2, true, a0);
  AdamRef rb(0.05, 0.9, 0.999, 1e-8, 0.0, true, b0);
  for (int k = 0; k < 4; ++k) {
    const Vec ga = random_vec(5), gb = random_vec(4);
    opt.zero_grad();
    set_grad(a, ga);
    set_grad(b, gb);  // c never gets a gradient
    opt.step();
    ra.step(ga);
    rb.step(gb);
    check_close(a, ra.p, kTol64);
    check_close(b, rb.p, kTol64);
    CHECK(bitwise_equal(c, from_vector(c0)));
  }
  const StateDict sd = opt.state_dict();
  CHECK(sd.count("state.0.exp_avg"));
  CHECK(sd.count("state.2.exp_avg_sq"));     // b is parameter 2: a, c, then b
  CHECK_FALSE(sd.count("state.1.exp_avg"));  // c: no gradient, no state
  CHECK(sd.at("state.0.step").item<int64_t>() == 4);
  CHECK(sd.at("state.0.step").dtype() == kInt64);
  CHECK(sd.at("param_groups.1.lr").item<double>() == 0.05);
  CHECK(sd.at("param_groups.0.params").to_vector<int64_t>() == std::vector<int64_t>{0, 1});
  CHECK(sd.at("param_groups.1.params").to_vector<int64_t>() == std::vector<int64_t>{2});
  CHECK(sd.at("param_groups.0.beta2").item<double>() == 0.999);

  opt.set_lr(0.5);
  CHECK(opt.lr(0) == 0.5);
  CHECK(opt.lr(1) == 0.5);
  opt.set_lr(1, 0.25);
  CHECK(opt.lr() == 0.5);
  CHECK(opt.lr(1) == 0.25);
}

TEST_CASE("Adam on a strided parameter takes the reference path and matches the formula") {
  manual_seed(15);
  Tensor base = randn({4, 3}, {.dtype = kFloat64});
  Tensor p = base.t();  // [3,4], not contiguous, a leaf (base needs no grad)
  p.requires_grad_();
  REQUIRE_FALSE(p.is_contiguous());
  const Vec p0 = p.contiguous().to_vector<double>();
  optim::Adam opt({p}, {.lr = 0.02, .weight_decay = 0.1});
  AdamRef ref(0.02, 0.9, 0.999, 1e-8, 0.1, false, p0);
  for (int k = 0; k < 3; ++k) {
    const Vec g = random_vec(12);
    set_grad(p, g);
    opt.step();
    ref.step(g);
    check_close(p, ref.p, kTol64);
  }
}

TEST_CASE("fused adam_step kernel agrees with adam_step_reference on random data") {
  manual_seed(16);
  // Odd sizes: more than one OpenMP chunk and a scalar tail after the vectors.
  for (DType dtype : {kFloat64, kFloat32}) {
    for (int64_t n : {int64_t{7}, int64_t{100003}}) {
      for (bool decoupled : {false, true}) {
        CAPTURE(dtype_name(dtype));
        CAPTURE(n);
        CAPTURE(decoupled);
        auto fused = kernel(&KernelTable::adam_step, Device::cpu(), dtype, "adam_step");
        Tensor p1 = randn({n}, {.dtype = dtype}), p2 = p1.clone();
        Tensor m1 = zeros({n}, {.dtype = dtype}), m2 = m1.clone();
        Tensor v1 = zeros({n}, {.dtype = dtype}), v2 = v1.clone();
        for (int t = 1; t <= 5; ++t) {
          Tensor g = randn({n}, {.dtype = dtype});
          AdamStepArgs args{.lr = 0.01,
                            .beta1 = 0.9,
                            .beta2 = 0.99,
                            .eps = 1e-8,
                            .weight_decay = 0.05,
                            .decoupled = decoupled,
                            .bias_correction1 = 1 - std::pow(0.9, t),
                            .bias_correction2 = 1 - std::pow(0.99, t)};
          fused(p1, g, m1, v1, args);
          adam_step_reference(p2, g, m2, v2, args);
        }
        const double tol = dtype == kFloat64 ? 1e-15 : 1e-6;
        check_close(p1, p2.to_vector<double>(), tol);
        check_close(m1, m2.to_vector<double>(), tol);
        check_close(v1, v2.to_vector<double>(), tol);
      }
    }
  }
}

TEST_CASE("AdamW on float32 parameters matches the float64 formula") {
  manual_seed(17);
  const int64_t n = 70001;
  const Vec p0 = random_vec(n);
  Tensor p = from_vector(p0).to(kFloat32);
  p.requires_grad_();
  AdamRef ref(1e-3, 0.9, 0.999, 1e-8, 0.1, true, p.to_vector<double>());
  optim::AdamW opt({p}, {.lr = 1e-3, .weight_decay = 0.1});
  for (int k = 0; k < 3; ++k) {
    Vec g = random_vec(n);
    p.set_grad(from_vector(g).to(kFloat32));
    g = p.grad().to_vector<double>();  // the float32-rounded gradient
    opt.step();
    ref.step(g);
  }
  check_close(p, ref.p, 1e-5);
}

// Runs `steps` steps of make_opt's optimizer over copies of params0 with the
// given gradients, resuming from a state dict halfway if `split`.
template <typename MakeOpt>
std::vector<Tensor> run_steps(const std::vector<Vec>& params0,
                              const std::vector<std::vector<Vec>>& grads, bool split,
                              MakeOpt make_opt) {
  std::vector<Tensor> params;
  for (const Vec& v : params0) params.push_back(leaf(v));
  auto opt = make_opt(params);
  const size_t half = grads.size() / 2;
  for (size_t k = 0; k < grads.size(); ++k) {
    if (split && k == half) {
      const StateDict sd = opt->state_dict();
      std::vector<Tensor> fresh;
      for (const Tensor& p : params) fresh.push_back(leaf(p.to_vector<double>()));
      params = fresh;
      opt = make_opt(params);
      opt->load_state_dict(sd);
    }
    opt->zero_grad();
    for (size_t i = 0; i < params.size(); ++i)
      if (!grads[k][i].empty()) set_grad(params[i], grads[k][i]);
    opt->step();
  }
  return params;
}

TEST_CASE("resume: N steps straight equal N/2, state_dict, fresh optimizer, N/2 more") {
  manual_seed(18);
  const std::vector<Vec> params0 = {random_vec(6), random_vec(5), random_vec(4)};
  std::vector<std::vector<Vec>> grads;
  for (int k = 0; k < 8; ++k)
    grads.push_back({random_vec(6), k < 5 ? Vec{} : random_vec(5), random_vec(4)});
  auto adamw = [](const std::vector<Tensor>& p) {
    return std::make_unique<optim::AdamW>(
        std::vector<optim::ParamGroup>{{.params = {p[0], p[1]}},
                                       {.params = {p[2]}, .weight_decay = 0.0}},
        optim::AdamWOptions{.lr = 0.01, .weight_decay = 0.1});
  };
  auto sgd = [](const std::vector<Tensor>& p) {
    return std::make_unique<optim::SGD>(
        p, optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01});
  };
  for (int which = 0; which < 2; ++which) {
    CAPTURE(which);
    const auto straight =
        which ? run_steps(params0, grads, false, sgd) : run_steps(params0, grads, false, adamw);
    const auto resumed =
        which ? run_steps(params0, grads, true, sgd) : run_steps(params0, grads, true, adamw);
    for (size_t i = 0; i < straight.size(); ++i) CHECK(bitwise_equal(straight[i], resumed[i]));
  }
}

TEST_CASE("state_dict round trip is bit-exact and restores hyper-parameters") {
  manual_seed(19);
  Tensor a = leaf(random_vec(8)), b = leaf(random_vec(3));
  optim::AdamW opt({{.params = {a}}, {.params = {b}, .lr = 0.003}},
                   {.lr = 0.01, .beta1 = 0.85, .weight_decay = 0.1});
  for (int k = 0; k < 3; ++k) {
    set_grad(a, random_vec(8));
    set_grad(b, random_vec(3));
    opt.step();
  }
  const StateDict sd = opt.state_dict();
  Tensor a2 = leaf(a.to_vector<double>()), b2 = leaf(b.to_vector<double>());
  optim::AdamW opt2({{.params = {a2}}, {.params = {b2}}}, {.lr = 1.0});
  opt2.load_state_dict(sd);
  CHECK(opt2.lr(1) == 0.003);
  CHECK(opt2.options().beta1 == 0.85);
  CHECK(opt2.weight_decay(0) == 0.1);
  const StateDict sd2 = opt2.state_dict();
  REQUIRE(sd2.size() == sd.size());
  for (const auto& [name, t] : sd) {
    CAPTURE(name);
    REQUIRE(sd2.count(name));
    CHECK(bitwise_equal(t, sd2.at(name)));
  }
  // A snapshot: stepping afterwards does not change a saved state dict.
  const Vec saved = sd.at("state.0.exp_avg").to_vector<double>();
  set_grad(a, random_vec(8));
  opt.step();
  CHECK(sd.at("state.0.exp_avg").to_vector<double>() == saved);
}

TEST_CASE("load_state_dict rejects mismatched checkpoints and changes nothing") {
  manual_seed(20);
  Tensor a = leaf(random_vec(4)), b = leaf(random_vec(2));
  optim::Adam opt({a, b}, {.lr = 0.01});
  set_grad(a, random_vec(4));
  set_grad(b, random_vec(2));
  opt.step();
  const StateDict good = opt.state_dict();

  Tensor a2 = leaf(random_vec(4)), b2 = leaf(random_vec(2));
  optim::Adam fresh({a2, b2}, {.lr = 0.5});
  auto with = [&](const std::string& key, const Tensor& t) {
    StateDict d = good;
    d[key] = t;
    return d;
  };
  auto without = [&](const std::string& key) {
    StateDict d = good;
    d.erase(key);
    return d;
  };
  CHECK_ERROR(fresh.load_state_dict(with("state.0.exp_avg", zeros({5}, {.dtype = kFloat64}))),
              "Adam.load_state_dict", "state.0.exp_avg", "float64[5]", "float64[4]");
  CHECK_ERROR(fresh.load_state_dict(with("state.1.exp_avg_sq", zeros({2}))), "state.1.exp_avg_sq",
              "float32[2]");
  CHECK_ERROR(fresh.load_state_dict(with("state.0.step", zeros({}, {.dtype = kFloat64}))),
              "state.0.step", "int64 0-d");
  CHECK_ERROR(fresh.load_state_dict(with("state.5.exp_avg", zeros({4}))), "state.5.exp_avg",
              "out of range");
  CHECK_ERROR(fresh.load_state_dict(with("state.0.momentum_buffer", zeros({4}))),
              "no state named 'momentum_buffer'");
  CHECK_ERROR(fresh.load_state_dict(with("param_groups.0.lr", zeros({}, {.dtype = kFloat32}))),
              "param_groups.0.lr", "float64 0-d");
  CHECK_ERROR(
      fresh.load_state_dict(with("param_groups.0.beta1", full({}, 1.5, {.dtype = kFloat64}))),
      "beta1", "[0, 1)");
  CHECK_ERROR(fresh.load_state_dict(with("param_groups.1.lr", full({}, 1.0, {.dtype = kFloat64}))),
              "param_groups.1.lr", "out of range");
  CHECK_ERROR(fresh.load_state_dict(with("foo", zeros({1}))), "unexpected entry foo");
  CHECK_ERROR(fresh.load_state_dict(without("state.1.exp_avg")), "state.1.exp_avg");
  CHECK_ERROR(fresh.load_state_dict(without("param_groups.0.eps")), "missing param_groups.0.eps");
  CHECK_ERROR(
      fresh.load_state_dict(with("param_groups.0.params", tensor(std::vector<int64_t>{0, 1, 2}))),
      "param_groups.0.params", "groups differ");
  CHECK(fresh.lr() == 0.5);  // nothing changed
  CHECK(fresh.state_dict().count("state.0.step") == 0);

  // Groups laid out differently: two groups here, one in the checkpoint.
  optim::Adam split({{.params = {a2}}, {.params = {b2}}});
  CHECK_ERROR(split.load_state_dict(good), "param_groups.0.params", "groups differ");
}

TEST_CASE("optimizer construction and step errors") {
  Tensor p = leaf({1.0, 2.0});
  CHECK_ERROR(optim::AdamW({p, p}), "AdamW", "appears more than once");
  CHECK_ERROR(optim::SGD({{.params = {p}}, {.params = {p}}}), "SGD", "group 1",
              "appears more than once");
  CHECK_ERROR(optim::Adam({tensor(std::vector<int64_t>{1, 2})}), "Adam", "floating-point",
              "int64[2]");
  CHECK_ERROR(optim::Adam({p * 2}), "Adam", "not a leaf");
  CHECK_ERROR(optim::Adam({Tensor()}), "Adam", "undefined");
  CHECK_ERROR(optim::Adam(std::vector<Tensor>{}), "Adam", "empty parameter list");
  CHECK_ERROR(optim::Adam({p}, {.lr = -1}), "Adam", "lr must be >= 0", "-1");
  CHECK_ERROR(optim::AdamW({p}, {.beta1 = 1.0}), "AdamW", "beta1", "[0, 1)");
  CHECK_ERROR(optim::AdamW({p}, {.beta2 = -0.1}), "AdamW", "beta2");
  CHECK_ERROR(optim::Adam({p}, {.eps = -1e-8}), "Adam", "eps");
  CHECK_ERROR(optim::Adam({p}, {.weight_decay = -0.1}), "weight_decay must be >= 0");
  CHECK_ERROR(optim::SGD({p}, {.momentum = -0.5}), "SGD", "momentum");
  CHECK_ERROR(optim::SGD({p}, {.nesterov = true}), "SGD", "nesterov", "momentum > 0");
  CHECK_ERROR(optim::SGD({p}, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}),
              "dampening 0");
  optim::SGD opt({p});
  CHECK_ERROR(opt.set_lr(-0.1), "SGD.set_lr", "-0.1");
  CHECK_ERROR(opt.lr(3), "SGD.lr", "group 3", "out of range");
  p.set_grad(zeros({3}, {.dtype = kFloat64}));
  CHECK_ERROR(opt.step(), "SGD.step", "float64[2]", "float64[3]");
  p.set_grad(zeros({2}, {.dtype = kFloat32}));
  CHECK_ERROR(opt.step(), "SGD.step", "float32[2]");
}

TEST_CASE("schedules: WarmupCosine, StepDecay, Constant at key steps") {
  const optim::WarmupCosine wc{10, 110, 0.1};
  CHECK(wc(0) == doctest::Approx(0.1));
  CHECK(wc(4) == doctest::Approx(0.5));
  CHECK(wc(9) == doctest::Approx(1.0));
  CHECK(wc(10) == doctest::Approx(1.0));
  CHECK(wc(60) == doctest::Approx(0.55));  // halfway: (1 + 0.1) / 2
  CHECK(wc(35) == doctest::Approx(0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi * 0.25))));
  CHECK(wc(109) > 0.1);
  CHECK(wc(110) == doctest::Approx(0.1));
  CHECK(wc(1000) == doctest::Approx(0.1));
  const optim::WarmupCosine no_warmup{0, 4};
  CHECK(no_warmup(0) == doctest::Approx(1.0));
  CHECK(no_warmup(2) == doctest::Approx(0.5));
  CHECK(no_warmup(4) == doctest::Approx(0.0));
  const optim::WarmupCosine all_warmup{5, 5, 0.2};
  CHECK(all_warmup(4) == doctest::Approx(1.0));
  CHECK(all_warmup(5) == doctest::Approx(0.2));

  const optim::StepDecay sd{3, 0.5};
  CHECK(sd(0) == 1.0);
  CHECK(sd(2) == 1.0);
  CHECK(sd(3) == 0.5);
  CHECK(sd(7) == 0.25);
  CHECK(optim::Constant{}(12345) == 1.0);

  CHECK_ERROR(optim::WarmupCosine(10, 5), "WarmupCosine", "warmup_steps 10", "total_steps 5");
  CHECK_ERROR(optim::WarmupCosine(-1, 5), "WarmupCosine", "-1");
  CHECK_ERROR(optim::WarmupCosine(0, 0), "WarmupCosine", "total_steps 0");
  CHECK_ERROR(optim::WarmupCosine(1, 5, 1.5), "WarmupCosine", "min_lr_ratio", "1.5");
  CHECK_ERROR(wc(-1), "WarmupCosine", "step must be >= 0");
  CHECK_ERROR(optim::StepDecay(0, 0.5), "StepDecay", "step_size");
  CHECK_ERROR(optim::StepDecay(2, 0.0), "StepDecay", "gamma");
}

TEST_CASE("LRScheduler drives an optimizer's groups and resumes") {
  Tensor a = leaf({1.0, 2.0}), b = leaf({3.0});
  optim::SGD opt({{.params = {a}}, {.params = {b}, .lr = 0.01}}, {.lr = 0.1});
  optim::LRScheduler sched(opt, optim::StepDecay{2, 0.5});
  CHECK(sched.last_step() == 0);
  CHECK(sched.base_lrs() == Vec{0.1, 0.01});
  CHECK(sched.last_lr() == Vec{0.1, 0.01});
  for (int k = 0; k < 5; ++k) {
    // The k-th optimizer step runs at base * schedule(k).
    const double lr = 0.1 * std::pow(0.5, k / 2);
    CHECK(opt.lr(0) == doctest::Approx(lr));
    const double before = a.to_vector<double>()[0];
    set_grad(a, {1.0, 1.0});
    opt.step();
    CHECK(a.to_vector<double>()[0] == doctest::Approx(before - lr));
    sched.step();
  }
  CHECK(sched.last_step() == 5);
  CHECK(sched.last_lr()[1] == doctest::Approx(0.01 * 0.25));

  optim::LRScheduler warm(opt, optim::WarmupCosine{4, 8});  // bases: the current lrs
  const StateDict sd = sched.state_dict();
  CHECK(sd.at("last_step").item<int64_t>() == 5);
  warm.load_state_dict(sd);  // the bases come back from the checkpoint
  CHECK(warm.base_lrs() == Vec{0.1, 0.01});
  CHECK(opt.lr(0) == doctest::Approx(0.1 * optim::WarmupCosine{4, 8}(5)));
  warm.set_step(0);
  CHECK(opt.lr(1) == doctest::Approx(0.01 * 0.25));

  optim::LRScheduler lambda(opt, [](int64_t step) { return 1.0 / (1.0 + step); });
  lambda.step();
  CHECK(lambda.last_lr()[0] == doctest::Approx(opt.lr(0)));

  CHECK_ERROR(sched.set_step(-2), "LRScheduler.set_step", "-2");
  CHECK_ERROR(optim::LRScheduler(opt, [](int64_t) { return -1.0; }), "LRScheduler", "-1");
  StateDict bad = sd;
  bad["base_lrs"] = from_vector(Vec{0.1});
  CHECK_ERROR(sched.load_state_dict(bad), "LRScheduler.load_state_dict", "float64[2]",
              "float64[1]");
  CHECK(sched.last_step() == 5);
}

TEST_CASE("clip_grad_norm: below and above max, p-norms, inf norm, missing grads") {
  manual_seed(21);
  Tensor a = leaf(random_vec(5)), b = leaf(random_vec(3)), c = leaf(random_vec(2));
  const Vec ga = random_vec(5), gb = random_vec(3);
  auto reset = [&] {
    set_grad(a, ga);
    set_grad(b, gb);
    c.zero_grad();  // no gradient: skipped
  };
  auto norm = [&](double p) {
    double s = 0, m = 0;
    for (const Vec* g : {&ga, &gb})
      for (double x : *g) {
        s += std::pow(std::fabs(x), p);
        m = std::max(m, std::fabs(x));
      }
    return std::isinf(p) ? m : std::pow(s, 1 / p);
  };
  for (double p : {2.0, 1.0, 3.0, double(INFINITY)}) {
    CAPTURE(p);
    const double total = norm(p);
    reset();
    CHECK(nn::clip_grad_norm({a, b, c}, total * 2, p) == doctest::Approx(total));
    check_close(a.grad(), ga, 0);  // below max: untouched
    reset();
    CHECK(nn::clip_grad_norm({a, b, c}, total / 4, p) == doctest::Approx(total));
    const double scale = (total / 4) / (total + 1e-6);
    Vec want = ga;
    for (double& x : want) x *= scale;
    check_close(a.grad(), want, 1e-14);
    CHECK_FALSE(c.grad().defined());
  }
  // float32 gradients, float64 accumulation.
  Tensor f = zeros({1000});
  f.set_grad(full({1000}, 0.1f));
  CHECK(nn::clip_grad_norm({f}, 100.0) == doctest::Approx(std::sqrt(1000 * 0.01)).epsilon(1e-6));

  // Non-finite: returned as is, nothing scaled.
  reset();
  b.set_grad(from_vector(Vec{1.0, INFINITY, 2.0}));
  CHECK(std::isinf(nn::clip_grad_norm({a, b}, 1.0)));
  check_close(a.grad(), ga, 0);
  b.set_grad(from_vector(Vec{1.0, NAN, 2.0}));
  CHECK(std::isnan(nn::clip_grad_norm({a, b}, 1.0, INFINITY)));
  check_close(a.grad(), ga, 0);
  CHECK(nn::clip_grad_norm({c}, 1.0) == 0.0);

  CHECK_ERROR(nn::clip_grad_norm({a}, -1.0), "clip_grad_norm", "max_norm", "-1");
  CHECK_ERROR(nn::clip_grad_norm({a}, 1.0, 0.0), "clip_grad_norm", "norm_type");
  CHECK_ERROR(nn::clip_grad_norm({Tensor()}, 1.0), "clip_grad_norm", "undefined");
}

TEST_CASE("clip_grad_value clamps every gradient") {
  Tensor a = leaf({0.0, 0.0, 0.0});
  set_grad(a, {-3.0, 0.5, 2.0});
  nn::clip_grad_value({a}, 1.0);
  check_close(a.grad(), {-1.0, 0.5, 1.0}, 0);
  CHECK_ERROR(nn::clip_grad_value({a}, -1.0), "clip_grad_value", "-1");
}
