#include <lasergrad/nn/clip_grad.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "common/metrics.h"
#include "modes.h"
#include "session.h"
#include "text_data.h"

namespace gpt {
namespace {

// The benchmark of issue 6, fixed so that runs compare across commits and
// with bench/pytorch/train_gpt.py.
constexpr int kWarmupSteps = 3, kTimedSteps = 12;

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
  auto optimizer = examples::make_adamw(model, loop_settings(config));
  model.train();
  std::vector<double> ms;
  for (int i = 0; i < kWarmupSteps + kTimedSteps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const Batch b = data.train_batch(config.batch, config.seed, i);
    lg::Tensor loss = lg::cross_entropy(model(b.inputs.to(device)), b.targets.to(device));
    optimizer->zero_grad();
    loss.backward();
    lg::nn::clip_grad_norm(model.parameters(), 1.0);
    optimizer->step();
    (void)loss.item<double>();  // waits for the device
    const double elapsed =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (i >= kWarmupSteps) ms.push_back(elapsed);
  }
  std::sort(ms.begin(), ms.end());
  const double median = (ms[ms.size() / 2] + ms[(ms.size() - 1) / 2]) / 2;
  std::printf(
      "{\"bench\":\"train_gpt\",\"attention\":\"%s\",\"device\":\"%s\",\"threads\":%d,"
      "\"median_step_ms\":%.2f,\"tokens_per_s\":%.1f,\"peak_rss_mb\":%.1f,\"params\":%lld}\n",
      config.attention.c_str(), config.device.c_str(), lg::get_num_threads(), median,
      config.batch * config.seq_len / (median / 1000), examples::peak_rss_mb(),
      static_cast<long long>(model.num_parameters()));
  return 0;
}

}  // namespace gpt
