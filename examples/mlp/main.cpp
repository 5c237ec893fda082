// lg-mlp: trains a small multilayer perceptron to fit y = sin(3x)·x on [-1, 1]
// through lasergrad's public API: hand-written parameters, autograd, and an
// Adam (or plain SGD) update written with in-place ops under NoGradGuard, with a
// cosine learning-rate decay. Exits non-zero unless the final loss is below the
// initial one.
#include <lasergrad/lasergrad.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace {

struct Config {
  int hidden = 64;
  int steps = 2000;
  int batch = 128;
  double lr = 1e-2;
  std::string optimizer = "adam";
  uint64_t seed = 0;
  int threads = 1;  // the layers are tiny: one thread is the fastest
  int log_every = 100;
};

float target(float x) { return std::sin(3.0f * x) * x; }

// Inputs x (a column) and their targets y = target(x).
struct Batch {
  lg::Tensor x, y;
};

Batch make_batch(const std::vector<float>& xs) {
  std::vector<float> ys;
  for (float x : xs) ys.push_back(target(x));
  const auto n = static_cast<int64_t>(xs.size());
  return {lg::from_vector(xs, {n, 1}), lg::from_vector(ys, {n, 1})};
}

Batch random_batch(int size) {
  lg::Tensor x = lg::rand({size, 1}) * 2.0 - 1.0;
  return make_batch(x.to_vector<float>());
}

// Evenly spaced points over [-1, 1], for a loss that does not depend on the draw.
Batch grid_batch(int size) {
  std::vector<float> xs;
  for (int i = 0; i < size; ++i) xs.push_back(-1.0f + 2.0f * i / (size - 1));
  return make_batch(xs);
}

// softsign: a smooth, bounded activation composed from differentiable ops, which
// needs no backward of its own.
lg::Tensor softsign(const lg::Tensor& x) { return x / (1.0 + lg::abs(x)); }

lg::Tensor parameter(const lg::Tensor& init) { return init.detach().requires_grad_(); }

// 1 -> hidden -> hidden -> 1, weights [in, out] so that a layer is x @ w + b.
class Mlp {
 public:
  explicit Mlp(int hidden) {
    const double scale = 1.0 / std::sqrt(static_cast<double>(hidden));
    params_ = {parameter(lg::randn({1, hidden})),
               parameter(lg::zeros({hidden})),
               parameter(lg::randn({hidden, hidden}) * scale),
               parameter(lg::zeros({hidden})),
               parameter(lg::randn({hidden, 1}) * scale),
               parameter(lg::zeros({1}))};
  }

  lg::Tensor forward(const lg::Tensor& x) const {
    lg::Tensor h = softsign(lg::matmul(x, params_[0]) + params_[1]);
    h = softsign(lg::matmul(h, params_[2]) + params_[3]);
    return lg::matmul(h, params_[4]) + params_[5];
  }

  const std::vector<lg::Tensor>& parameters() const { return params_; }

 private:
  std::vector<lg::Tensor> params_;
};

// Adam (Kingma & Ba) or plain SGD over a fixed list of parameters.
class Optimizer {
 public:
  Optimizer(std::vector<lg::Tensor> params, const Config& config)
      : params_(std::move(params)), adam_(config.optimizer == "adam") {
    for (const lg::Tensor& p : params_) {
      m_.push_back(lg::zeros_like(p));
      v_.push_back(lg::zeros_like(p));
    }
  }

  void zero_grad() {
    for (lg::Tensor& p : params_) p.zero_grad();
  }

  void step(double lr) {
    lg::NoGradGuard no_grad;
    ++t_;
    const double c1 = 1.0 - std::pow(kBeta1, t_), c2 = 1.0 - std::pow(kBeta2, t_);
    for (size_t i = 0; i < params_.size(); ++i) {
      lg::Tensor g = params_[i].grad();
      if (!g.defined()) continue;
      if (!adam_) {
        params_[i].add_(g, -lr);
        continue;
      }
      m_[i].mul_(kBeta1).add_(g, 1.0 - kBeta1);
      v_[i].mul_(kBeta2).add_(g * g, 1.0 - kBeta2);
      params_[i].add_(m_[i] / (lg::sqrt(v_[i] / c2) + kEps), -lr / c1);
    }
  }

 private:
  static constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8;
  std::vector<lg::Tensor> params_, m_, v_;
  bool adam_;
  int t_ = 0;
};

// Decays from config.lr to 0 over the run.
double cosine_lr(const Config& config, int step) {
  const double pi = std::acos(-1.0);
  return 0.5 * config.lr * (1.0 + std::cos(pi * (step - 1) / config.steps));
}

double mse(const Mlp& model, const Batch& b) {
  lg::Tensor diff = model.forward(b.x) - b.y;
  return lg::mean(diff * diff).item<double>();
}

int train(const Config& config) {
  lg::manual_seed(config.seed);
  lg::set_num_threads(config.threads);
  Mlp model(config.hidden);
  Optimizer optimizer(model.parameters(), config);
  const Batch eval = grid_batch(256);
  double initial;
  {
    lg::NoGradGuard no_grad;
    initial = mse(model, eval);
  }
  std::printf(
      "lg-mlp: fitting y = sin(3x)*x on [-1, 1], hidden %d, %s lr %g, batch %d, seed %llu\n",
      config.hidden, config.optimizer.c_str(), config.lr, config.batch,
      static_cast<unsigned long long>(config.seed));
  std::printf("step %5d/%d  eval loss %.6f\n", 0, config.steps, initial);

  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  for (int step = 1; step <= config.steps; ++step) {
    const Batch b = random_batch(config.batch);
    lg::Tensor diff = model.forward(b.x) - b.y;
    lg::Tensor loss = lg::mean(diff * diff);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step(cosine_lr(config, step));
    if (step % config.log_every == 0 || step == config.steps)
      std::printf("step %5d/%d  loss %.6f  elapsed %.2fs\n", step, config.steps,
                  loss.item<double>(), elapsed());
  }

  double final_loss;
  {
    lg::NoGradGuard no_grad;
    final_loss = mse(model, eval);
  }
  std::printf("%8s %10s %10s\n", "x", "target", "model");
  {
    lg::NoGradGuard no_grad;
    const Batch sample = grid_batch(9);
    const std::vector<float> xs = sample.x.to_vector<float>(), ys = sample.y.to_vector<float>(),
                             predicted = model.forward(sample.x).to_vector<float>();
    for (size_t i = 0; i < xs.size(); ++i)
      std::printf("%8.3f %10.5f %10.5f\n", xs[i], ys[i], predicted[i]);
  }
  std::printf("final eval loss %.6f (initial %.6f) after %d steps in %.2fs\n", final_loss, initial,
              config.steps, elapsed());
  if (!(final_loss < initial)) {
    std::fprintf(stderr, "lg-mlp: the loss did not decrease\n");
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a small MLP on y = sin(3x)*x with lasergrad"};
  Config config;
  app.add_option("--hidden", config.hidden, "Width of the two hidden layers")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--steps", config.steps, "Training steps")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--batch", config.batch, "Points per step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--lr", config.lr, "Learning rate")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--optimizer", config.optimizer, "Update rule")
      ->check(CLI::IsMember({"adam", "sgd"}))
      ->capture_default_str();
  app.add_option("--seed", config.seed, "Seed for the weights and the batches")
      ->capture_default_str();
  app.add_option("--threads", config.threads, "CPU threads")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--log-every", config.log_every, "Print progress every N steps")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    return train(config);
  } catch (const lg::Error& e) {
    std::fprintf(stderr, "lg-mlp: %s\n", e.what());
    return 1;
  }
}
