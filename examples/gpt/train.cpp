#include <lasergrad/nn/clip_grad.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>

#include "checkpoint_path.h"
#include "common/files.h"
#include "common/interrupt.h"
#include "common/metrics.h"
#include "common/progress.h"
#include "common/run_lock.h"
#include "modes.h"
#include "session.h"
#include "text_data.h"

namespace gpt {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Mean cross-entropy over the fixed validation batches, in eval mode.
double evaluate(Gpt& model, const TextDataset& data, const TrainConfig& config, lg::Device device) {
  lg::NoGradGuard no_grad;
  model.eval();
  double total = 0;
  for (int i = 0; i < config.eval_batches; ++i) {
    const Batch b = data.val_batch(config.batch, i, config.eval_batches);
    total += lg::cross_entropy(model(b.inputs.to(device)), b.targets.to(device)).item<double>();
  }
  model.train();
  return total / config.eval_batches;
}

Text load_text(const TrainConfig& config) {
  return config.data.empty() ? king_james_bible()
                             : read_text_file(config.data, config.max_data_bytes);
}

const std::string& require(const lg::Metadata& m, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) throw std::runtime_error("the checkpoint has no config entry \"" + key + "\"");
  return it->second;
}

}  // namespace

int train(TrainConfig config) {
  const lg::Device device = setup_runtime(config);
  const std::string ckpt_path = checkpoint_path(config.out).string();
  const examples::RunLock run_lock = examples::claim_run_folder(
      config.out, {checkpoint_path(config.out).filename(), "metrics.jsonl", "metrics.csv"});
  std::optional<lg::TrainingCheckpoint> resumed;
  std::optional<examples::CharVocab> vocab;
  if (config.resume) {
    resumed = lg::load_checkpoint(ckpt_path);
    config.apply_resume_metadata(resumed->config);
    vocab = examples::CharVocab::from_string(require(resumed->config, "gpt.vocab"));
  }
  const Text text = load_text(config);
  const TextDataset data(text.utf8, config.seq_len, std::move(vocab));
  prompt_ids(data.vocab(), config.prompt);  // the sample after training needs it
  const auto text_chars =
      static_cast<int64_t>(data.train_tokens().size() + data.val_tokens().size());
  const std::string text_hash = examples::fnv1a64_hex(text.utf8);
  if (resumed) check_resume_text(resumed->config, text.source, text_hash, text_chars);

  lg::manual_seed(config.seed);
  Gpt model(model_shape(config, data.vocab().size()));
  model.to(device);
  auto optimizer = make_optimizer(model, config);
  int64_t step = 0;
  if (resumed) {
    model.load_state_dict(resumed->model);
    optimizer->load_state_dict(resumed->optimizer);
    lg::set_rng_state(resumed->rng);
    step = resumed->step;
    resumed.reset();
  }
  const lg::Metadata metadata =
      checkpoint_metadata(config, data.vocab(), text.source, text_hash, text_chars);
  auto save = [&] {
    lg::save_checkpoint(ckpt_path, {.model = model.state_dict(),
                                    .optimizer = optimizer->state_dict(),
                                    .step = step,
                                    .rng = lg::get_rng_state(),
                                    .config = metadata});
  };

  std::printf("lg-gpt: %s, %lld characters (vocabulary %lld; %lld validation characters unknown)\n",
              text.source.c_str(), static_cast<long long>(text_chars),
              static_cast<long long>(data.vocab().size()),
              static_cast<long long>(data.val_unknown()));
  std::printf(
      "model: %s attention, %d layers, d-model %d, %d heads, seq-len %d: %lld parameters; "
      "batch %d, %d steps, lr %g, %s, %d threads\n",
      config.attention.c_str(), config.layers, config.d_model, config.heads, config.seq_len,
      static_cast<long long>(model.num_parameters()), config.batch, config.steps, config.lr,
      config.device.c_str(), lg::get_num_threads());
  if (step > 0)
    std::printf("resuming from %s at step %lld\n", ckpt_path.c_str(), static_cast<long long>(step));
  std::fflush(stdout);

  examples::MetricsWriter metrics(
      config.out, {"train_loss", "val_loss", "lr", "tokens_per_s", "elapsed_s", "peak_rss_mb"},
      step > 0 ? std::optional<int64_t>(step) : std::nullopt);
  examples::ProgressLine progress(stdout, examples::ProgressLine::is_terminal(stdout),
                                  config.log_every);
  progress.start(step);
  const int64_t first_step = step;
  examples::install_interrupt_handler();
  const int checkpoint_every =
      config.checkpoint_every > 0 ? config.checkpoint_every : config.eval_every;
  const double tokens_per_step = static_cast<double>(config.batch) * config.seq_len;
  const Clock::time_point start = Clock::now();
  double timed = 0, last_val = NAN;
  model.train();
  const int64_t last_step = config.stop_after > 0
                                ? std::min<int64_t>(config.steps, step + config.stop_after)
                                : config.steps;
  while (step < last_step) {
    if (examples::interrupted()) {
      progress.finish();
      save();
      std::fprintf(
          stderr, "lg-gpt: interrupted at step %lld; checkpoint saved to %s (--resume continues)\n",
          static_cast<long long>(step), ckpt_path.c_str());
      return examples::interrupted_exit_code();
    }
    const Clock::time_point step_start = Clock::now();
    const double lr = learning_rate(config, step + 1);
    optimizer->set_lr(lr);
    const Batch b = data.train_batch(config.batch, config.seed, step);
    lg::Tensor loss = lg::cross_entropy(model(b.inputs.to(device)), b.targets.to(device));
    optimizer->zero_grad();
    loss.backward();
    if (config.grad_clip > 0) lg::nn::clip_grad_norm(model.parameters(), config.grad_clip);
    optimizer->step();
    const double loss_value = loss.item<double>();
    if (!std::isfinite(loss_value))
      throw std::runtime_error("the training loss is " + std::to_string(loss_value) + " at step " +
                               std::to_string(step + 1) + ": try a lower --lr");
    ++step;
    const double step_s = seconds_since(step_start);
    timed += step_s;
    const double elapsed = seconds_since(start);
    progress.update({.step = step,
                     .total = config.steps,
                     .loss = loss_value,
                     .lr = lr,
                     .tokens_per_s = tokens_per_step / step_s,
                     .elapsed_s = elapsed});
    std::optional<double> val;
    if (step % config.eval_every == 0 || step == config.steps) {
      val = last_val = evaluate(model, data, config, device);
      char line[96];
      std::snprintf(line, sizeof line, "step %lld: validation loss %.4f",
                    static_cast<long long>(step), *val);
      progress.message(line);
    }
    try {
      metrics.write(
          step, {loss_value, val, lr, tokens_per_step / step_s, elapsed, examples::peak_rss_mb()});
    } catch (const examples::MetricsWriteError& e) {
      progress.finish();
      stop_after_metrics_error(e, step, save, ckpt_path);
    }
    if (step % checkpoint_every == 0 || step == last_step) save();
  }
  progress.finish();
  if (step < config.steps) {
    std::printf("stopped after step %lld of %d (--stop-after); --resume continues from %s\n",
                static_cast<long long>(step), config.steps, ckpt_path.c_str());
    return 0;
  }
  if (std::isnan(last_val)) last_val = evaluate(model, data, config, device);
  std::printf(
      "final validation loss %.4f after %lld steps (%s training here, %.0f tokens/s); "
      "peak RSS %.0f MB; checkpoint %s\n",
      last_val, static_cast<long long>(step), examples::format_duration(timed).c_str(),
      timed > 0 ? tokens_per_step * static_cast<double>(step - first_step) / timed : 0.0,
      examples::peak_rss_mb(), ckpt_path.c_str());
  print_sample(model, data.vocab(), config, device, kSampleAfterTraining);
  return 0;
}

}  // namespace gpt
