// What lg-gpt's modes (train, sample, bench) share: threads and device from
// the flags, the model's shape from flags or a checkpoint, the optimizer with
// decay only on matrices, the learning-rate schedule, and generation.
#pragma once
#include <lasergrad/lasergrad.h>
#include <lasergrad/nn/checkpoint.h>
#include <lasergrad/nn/optimizer.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/char_vocab.h"
#include "gpt_model.h"
#include "train_config.h"

namespace gpt {

// Sets the CPU thread count (0: every core) and returns the device to run on.
lg::Device setup_runtime(const TrainConfig& config);

GptShape model_shape(const TrainConfig& config, int64_t vocab_size);

// AdamW over the model: weight decay on matrices (dim >= 2: linear weights,
// embeddings), none on biases and LayerNorm parameters, as GPT-2 and nanoGPT.
std::unique_ptr<lg::optim::AdamW> make_optimizer(const Gpt& model, const TrainConfig& config);

// Linear warm-up to config.lr over config.warmup steps, then cosine decay to
// lr / 10 at config.steps; step counts from 1. A function of the step only, so
// that a resumed run follows the same schedule.
double learning_rate(const TrainConfig& config, int64_t step);

// The checkpoint's "config" entries: the model's settings, the vocabulary, the
// seed and the text it trained on (its source, content hash and length).
lg::Metadata checkpoint_metadata(const TrainConfig& config, const examples::CharVocab& vocab,
                                 const std::string& text_source, const std::string& text_hash,
                                 int64_t text_chars);

// The prompt's token ids; throws UsageError naming the first character of
// prompt that vocab lacks. Training calls it before the first step.
std::vector<int64_t> prompt_ids(const examples::CharVocab& vocab, const std::string& prompt);

// After a failed metrics write at `step`: saves a checkpoint if it can, then
// throws std::runtime_error saying what failed and whether the checkpoint was saved.
[[noreturn]] void stop_after_metrics_error(const std::exception& error, int64_t step,
                                           const std::function<void()>& save,
                                           const std::string& checkpoint);

struct GenerateOptions {
  int64_t length = 0;  // characters to generate
  double temperature = 1.0;
  int64_t top_k = 0;  // 0: every character
};

// Continues prompt (every character must be in vocab; an empty prompt starts
// from a newline, or the first character of the vocabulary) with characters
// drawn one at a time from the model's next-character distribution,
// never <unk>. Calls emit with each new character's UTF-8 as it is drawn and
// returns them all. Draws use lasergrad's generator (seed it for a fixed sample).
std::string generate(const Gpt& model, const examples::CharVocab& vocab, const std::string& prompt,
                     const GenerateOptions& options, lg::Device device,
                     const std::function<void(const std::string&)>& emit = {});

// Prints "sample:" and `length` generated characters (streamed), seeded with
// config.seed, with config's prompt, temperature and top-k.
void print_sample(const Gpt& model, const examples::CharVocab& vocab, const TrainConfig& config,
                  lg::Device device, int64_t length);

}  // namespace gpt
