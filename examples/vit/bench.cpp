#include "bench.h"

#include <lasergrad/nn/nn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"

namespace vit {
namespace {

constexpr double kEpochImages = 55000;  // MNIST's training images less a 5000 validation split

void check_options(const VitBenchOptions& o) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("vit bench: " + what); };
  if (o.threads < 0) fail("threads must be >= 0, got " + std::to_string(o.threads));
  if (o.warmup_steps < 0) fail("warmup_steps must be >= 0, got " + std::to_string(o.warmup_steps));
  if (o.steps < 1) fail("steps must be >= 1, got " + std::to_string(o.steps));
  if (o.batch < 1 || o.batch > (1 << 20))
    fail("batch must lie in [1, 1048576], got " + std::to_string(o.batch));
  validate(o.shape);
}

struct Batch {
  lg::Tensor images, labels;
};

// Random images N(0, 1) and uniform labels: the benchmark times the model, not data.
Batch synthetic_batch(const VitBenchOptions& o, std::mt19937_64& rng) {
  const VitShape& s = o.shape;
  std::uniform_int_distribution<int64_t> label(0, s.classes - 1);
  std::vector<int64_t> labels(static_cast<size_t>(o.batch));
  for (int64_t& l : labels) l = label(rng);
  return {lg::randn({o.batch, s.channels, s.image_size, s.image_size}).to(o.device),
          lg::from_vector(labels, {o.batch}).to(o.device)};
}

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return (v[v.size() / 2] + v[(v.size() - 1) / 2]) / 2;
}

double round2(double x) { return std::round(x * 100) / 100; }

// Median milliseconds of `steps` training steps (forward, backward, gradient
// clipping, AdamW) after the warm-up ones.
double time_training(Vit& model, const VitBenchOptions& o, std::mt19937_64& rng) {
  const WeightDecaySplit split = split_for_weight_decay(model);
  lg::optim::AdamW optimizer(
      {{.params = split.decay}, {.params = split.no_decay, .weight_decay = 0.0}},
      {.lr = 1e-3, .weight_decay = 0.05});
  model.train();
  std::vector<double> ms;
  for (int i = 0; i < o.warmup_steps + o.steps; ++i) {
    const Batch b = synthetic_batch(o, rng);
    const auto start = std::chrono::steady_clock::now();
    lg::Tensor loss = lg::cross_entropy(model(b.images), b.labels);
    optimizer.zero_grad();
    loss.backward();
    lg::nn::clip_grad_norm(model.parameters(), 1.0);
    optimizer.step();
    (void)loss.item<double>();  // waits for the device
    if (i >= o.warmup_steps) ms.push_back(milliseconds_since(start));
  }
  return median(ms);
}

// Median milliseconds of a forward pass in eval mode without autograd.
double time_inference(Vit& model, const VitBenchOptions& o, std::mt19937_64& rng) {
  model.eval();
  lg::NoGradGuard no_grad;
  const Batch b = synthetic_batch(o, rng);
  std::vector<double> ms;
  for (int i = 0; i < 1 + o.steps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    (void)model(b.images).sum().item<double>();
    if (i >= 1) ms.push_back(milliseconds_since(start));
  }
  return median(ms);
}

}  // namespace

int run_vit_bench(const VitBenchOptions& options, std::ostream& out) {
  check_options(options);
  const int hardware = static_cast<int>(std::thread::hardware_concurrency());
  lg::set_num_threads(options.threads > 0 ? options.threads : std::max(1, hardware));
  lg::manual_seed(options.seed);
  std::mt19937_64 rng(options.seed);
  Vit model(options.shape);
  model.to(options.device);
  const double step_ms = time_training(model, options, rng);
  const double inference_ms = time_inference(model, options, rng);
  const auto images = static_cast<double>(options.batch);
  nlohmann::ordered_json line = {
      {"bench", "train_vit"},
      {"framework", "lasergrad"},
      {"attention", lg::nn::attention_kind_name(options.shape.attention)},
      {"pool", pool_name(options.shape.pool)},
      {"device", options.device.str()},
      {"threads", lg::get_num_threads()},
      {"batch", options.batch},
      {"median_step_ms", round2(step_ms)},
      {"images_per_s", round2(images / (step_ms / 1000))},
      {"seconds_per_epoch", round2(kEpochImages / images * step_ms / 1000)},
      {"inference_images_per_s", round2(images / (inference_ms / 1000))},
      {"peak_rss_mb", round2(examples::peak_rss_mb())},
      {"params", model.num_parameters()}};
  // The machine, measured in the same run (the GEMM rate at this thread count).
  const examples::BenchMachine machine = examples::bench_machine(options.device.is_cpu());
  line["sgemm_gflops"] = round2(machine.sgemm_gflops);
  line["cpu"] = machine.cpu;
  line["isa"] = machine.isa;
  line["openblas_core"] = machine.openblas_core;
  line["openmp_wait"] = machine.openmp_wait;
  out << line.dump() << std::endl;
  return 0;
}

}  // namespace vit
