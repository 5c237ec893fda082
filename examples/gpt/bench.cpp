#include <lasergrad/distributed/data_parallel.h>
#include <lasergrad/nn/clip_grad.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <vector>

#include "common/metrics.h"
#include "common/ranks.h"
#include "common/utf8.h"
#include "modes.h"
#include "session.h"
#include "text_data.h"

namespace gpt {
namespace {

// The benchmark of issue 6, fixed so that runs compare across commits and
// with bench/pytorch/train_gpt.py.
constexpr int kWarmupSteps = 3, kTimedSteps = 12;

// Characters a second that generate() draws from a full context (the first
// seq_len characters of the text as the prompt), with or without the cache.
double sampling_rate(const Gpt& model, const TextDataset& data, lg::Device device, bool cache,
                     int64_t characters) {
  std::u32string prompt;
  for (int64_t i = 0; i < data.seq_len(); ++i)
    prompt += data.vocab().character(data.train_tokens()[static_cast<size_t>(i)]);
  lg::manual_seed(1);
  const auto start = std::chrono::steady_clock::now();
  generate(model, data.vocab(), examples::encode_utf8(prompt),
           {.length = characters, .temperature = 1.0, .cache = cache}, device, {});
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(characters) / s;
}

// The matrix FLOPs of one training step of the model: per token and layer
// the QKV, output, and two MLP products (2 * 12 d^2 with the 4d MLP), causal
// attention's QK^T and PV over the keys each query sees (4 d (t + 1) / 2 at
// position t), and the head (2 d V); the backward counts twice the forward
// (a product's input and weight gradients; attention's dV, dP, dQ and dK).
// The fused attention backward also recomputes the scores: that is the
// kernel's cost, so it is not counted as the model's work.
double step_matrix_flops(const GptShape& s, int64_t batch) {
  const double d = static_cast<double>(s.d_model), T = static_cast<double>(s.seq_len);
  const double per_token_layer = 24 * d * d;
  const double attention_per_sequence = 2 * d * T * (T + 1);  // sum over t of 4 d (t + 1) / 2
  const double forward =
      static_cast<double>(batch) *
      (static_cast<double>(s.layers) * (T * per_token_layer + attention_per_sequence) +
       T * 2 * d * static_cast<double>(s.vocab_size));
  return 3 * forward;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return (v[v.size() / 2] + v[(v.size() - 1) / 2]) / 2;
}

}  // namespace

int bench(TrainConfig config) {
  config.layers = 4;
  config.d_model = 256;
  config.heads = 4;
  config.seq_len = 256;
  config.batch = 8;
  config.dropout = 0.0;
  const lg::Device device = setup_runtime(config);
  // The text itself is dropped once tokenised (only the token ids stay in memory).
  const TextDataset data((config.data.empty() ? king_james_bible()
                                              : read_text_file(config.data, config.max_data_bytes))
                             .utf8,
                         config.seq_len);
  lg::manual_seed(config.seed);
  Gpt model(model_shape(config, data.vocab().size()));
  model.to(device);
  // Under mpirun: every rank --batch rows of its own, gradients averaged as in training.
  const int world = examples::world_size();
  std::optional<lg::distributed::DistributedDataParallel> ddp;
  if (world > 1)
    ddp.emplace(model, lg::distributed::DataParallelOptions{.bucket_mb = config.bucket_mb});
  auto optimizer = examples::make_adamw(model, loop_settings(config));
  model.train();
  std::vector<double> ms, wait_ms;
  for (int i = 0; i < kWarmupSteps + kTimedSteps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const Batch b =
        data.train_batch(config.batch, config.seed, i, examples::rank() * int64_t{config.batch});
    lg::Tensor loss = lg::cross_entropy(model(b.inputs.to(device)), b.targets.to(device));
    optimizer->zero_grad();
    loss.backward();
    lg::nn::clip_grad_norm(model.parameters(), 1.0);
    optimizer->step();
    (void)loss.item<double>();  // waits for the device
    const double elapsed =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (i >= kWarmupSteps) {
      ms.push_back(elapsed);
      wait_ms.push_back(ddp ? 1000 * ddp->last_sync().wait_seconds : 0.0);
    }
  }
  // The slowest rank's median sets the pace.
  double median = median_of(ms), wait = median_of(wait_ms);
  if (world > 1) {
    const std::vector<double> slowest =
        lg::distributed::all_reduce({median, wait}, lg::distributed::ReduceOp::Max);
    median = slowest[0];
    wait = slowest[1];
  }
  // The machine's GEMM rate in the same run, at the same thread count: the
  // step's matrix FLOPs at that rate over the step's time is its efficiency.
  // On the GPU, cuBLAS's rate in place of the CPU's.
  examples::BenchMachine machine = examples::bench_machine(device.is_cpu());
  if (device.is_cuda()) machine.sgemm_gflops = lg::measure_sgemm_gflops(2048, 5, device);
  const double flops = step_matrix_flops(model_shape(config, data.vocab().size()), config.batch);
  const double efficiency =
      machine.sgemm_gflops > 0 ? flops / (median / 1000) / (machine.sgemm_gflops * 1e9) : 0.0;
  std::printf(
      "{\"bench\":\"train_gpt\",\"attention\":\"%s\",\"device\":\"%s\",\"threads\":%d,"
      "\"ranks\":%d,\"median_step_ms\":%.2f,\"tokens_per_s\":%.1f,\"comm_wait_ms\":%.2f,"
      "\"comm_wait_share\":%.4f,\"peak_rss_mb\":%.1f,\"params\":%lld,\"step_gflop\":%.2f,"
      "\"sgemm_gflops\":%.1f,\"gemm_efficiency\":%.3f,\"cpu\":\"%s\",\"isa\":\"%s\","
      "\"openblas_core\":\"%s\",\"openmp_wait\":\"%s\"}\n",
      config.attention.c_str(), config.device.c_str(), lg::get_num_threads(), world, median,
      world * config.batch * config.seq_len / (median / 1000), wait, wait / median,
      examples::peak_rss_mb(), static_cast<long long>(model.num_parameters()), flops / 1e9,
      machine.sgemm_gflops, efficiency, machine.cpu.c_str(), machine.isa.c_str(),
      machine.openblas_core.c_str(), machine.openmp_wait.c_str());
  if (world == 1) {
    // Generation at a full 256-character context, as lg-gpt --sample does it.
    model.eval();
    const double cached = sampling_rate(model, data, device, true, 512);
    const double uncached = sampling_rate(model, data, device, false, 64);
    std::printf(
        "{\"bench\":\"sample_gpt\",\"attention\":\"%s\",\"device\":\"%s\",\"threads\":%d,"
        "\"context\":%d,\"tokens_per_s\":%.1f,\"uncached_tokens_per_s\":%.1f,\"speedup\":%.2f}\n",
        config.attention.c_str(), config.device.c_str(), lg::get_num_threads(), config.seq_len,
        cached, uncached, cached / uncached);
  }
  return 0;
}

}  // namespace gpt
