#include "bench.h"

#include <lasergrad/nn/nn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"

namespace speech {
namespace {

void check_options(const SpeechBenchOptions& o) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("speech bench: " + what); };
  if (o.threads < 0) fail("threads must be >= 0, got " + std::to_string(o.threads));
  if (o.warmup_steps < 0) fail("warmup_steps must be >= 0, got " + std::to_string(o.warmup_steps));
  if (o.steps < 1) fail("steps must be >= 1, got " + std::to_string(o.steps));
  if (o.batch < 1 || o.batch > 4096)
    fail("batch must lie in [1, 4096], got " + std::to_string(o.batch));
  if (o.min_frames < 1 || o.min_frames > o.frames)
    fail("frames must satisfy 1 <= min_frames <= frames, got " + std::to_string(o.min_frames) +
         " and " + std::to_string(o.frames));
  if (o.target_length < 3 ||
      2 * (o.target_length + 2) + 1 > SpeechModel::output_length(o.min_frames))
    fail("target_length " + std::to_string(o.target_length) +
         " must be >= 3 and fit the shortest utterance's output frames");
  validate(o.model);
}

struct Batch {
  lg::Tensor features, lengths, targets, target_lengths;
  double audio_seconds = 0;
};

// Features N(0, 1), lengths spread evenly over [min_frames, frames], targets
// uniform over the symbols 1 .. vocab-1 (0 is the blank).
Batch synthetic_batch(const SpeechBenchOptions& o) {
  std::mt19937_64 rng(o.seed);
  std::vector<int64_t> lengths, target_lengths, targets;
  const int64_t max_target = o.target_length + 2;
  std::uniform_int_distribution<int64_t> symbol(1, o.model.vocab - 1), extra(-2, 2);
  for (int64_t i = 0; i < o.batch; ++i) {
    const int64_t span = o.frames - o.min_frames;
    lengths.push_back(o.batch == 1 ? o.frames : o.min_frames + span * i / (o.batch - 1));
    target_lengths.push_back(o.target_length + extra(rng));
    for (int64_t s = 0; s < max_target; ++s)
      targets.push_back(s < target_lengths.back() ? symbol(rng) : 0);
  }
  Batch b;
  b.features = lg::randn({o.batch, o.frames, o.model.mels});
  b.lengths = lg::from_vector(lengths);
  b.targets = lg::from_vector(targets, {o.batch, max_target});
  b.target_lengths = lg::from_vector(target_lengths);
  b.audio_seconds =
      static_cast<double>(std::accumulate(lengths.begin(), lengths.end(), int64_t{0})) / 100;
  return b;
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

// The timed steps' milliseconds: forward, CTC, backward, clipping, AdamW.
std::vector<double> time_training(SpeechModel& model, const Batch& b, const SpeechBenchOptions& o) {
  lg::optim::AdamW optimizer(model.parameters(), {.lr = 1e-3, .weight_decay = 0.01});
  model.train();
  std::vector<double> ms;
  for (int i = 0; i < o.warmup_steps + o.steps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto [log_probs, out_lengths] = model.forward(b.features, b.lengths);
    lg::Tensor loss =
        lg::ctc_loss(log_probs, b.targets, out_lengths, b.target_lengths, {.zero_infinity = true});
    optimizer.zero_grad();
    loss.backward();
    lg::nn::clip_grad_norm(model.parameters(), 1.0);
    optimizer.step();
    (void)loss.item<double>();
    if (i >= o.warmup_steps) ms.push_back(milliseconds_since(start));
  }
  return ms;
}

}  // namespace

int run_speech_bench(const SpeechBenchOptions& options, std::FILE* out) {
  check_options(options);
  const int hardware = static_cast<int>(std::thread::hardware_concurrency());
  lg::set_num_threads(options.threads > 0 ? options.threads : std::max(1, hardware));
  lg::manual_seed(options.seed);
  SpeechModel model(options.model);
  model.to(options.device);
  Batch batch = synthetic_batch(options);
  for (lg::Tensor* t : {&batch.features, &batch.lengths, &batch.targets, &batch.target_lengths})
    *t = t->to(options.device);
  const std::vector<double> ms = time_training(model, batch, options);
  const double step_ms = median(ms);
  nlohmann::ordered_json line = {
      {"bench", "train_speech"},
      {"framework", "lasergrad"},
      {"attention", lg::nn::attention_kind_name(options.model.attention)},
      {"device", options.device.is_cpu() ? "cpu" : "cuda"},
      {"threads", lg::get_num_threads()},
      {"batch", options.batch},
      {"frames", options.frames},
      {"median_step_ms", round2(step_ms)},
      {"min_step_ms", round2(*std::min_element(ms.begin(), ms.end()))},
      {"max_step_ms", round2(*std::max_element(ms.begin(), ms.end()))},
      {"audio_s_per_s", round2(batch.audio_seconds / (step_ms / 1000))},
      {"peak_rss_mb", round2(examples::peak_rss_mb())},
      {"params", model.num_parameters()}};
  // The machine, measured in the same run (the GEMM rate at this thread count).
  // (No CPU GEMM rate for a run on the GPU: sgemm_gflops is 0 there.)
  const examples::BenchMachine machine = examples::bench_machine(options.device.is_cpu());
  line["sgemm_gflops"] = round2(machine.sgemm_gflops);
  line["cpu"] = machine.cpu;
  line["isa"] = machine.isa;
  line["openblas_core"] = machine.openblas_core;
  line["openmp_wait"] = machine.openmp_wait;
  std::fprintf(out, "%s\n", line.dump().c_str());
  std::fflush(out);
  return 0;
}

int run_speech_bench(lg::nn::AttentionKind attention, int threads, std::FILE* out,
                     lg::Device device) {
  SpeechBenchOptions options;
  options.device = device;
  options.model.attention = attention;
  options.threads = threads;
  return run_speech_bench(options, out);
}

}  // namespace speech
