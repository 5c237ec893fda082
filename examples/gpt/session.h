// What lg-gpt's modes (train, sample, bench) share: threads and device from
// the flags, the model's shape from flags or a checkpoint, the training loop's
// settings, and generation.
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
#include "common/training_loop.h"
#include "gpt_model.h"
#include "train_config.h"

namespace gpt {

// Sets the CPU thread count (0: every core) and returns the device to run on.
lg::Device setup_runtime(const TrainConfig& config);

GptShape model_shape(const TrainConfig& config, int64_t vocab_size);

// The shared training loop's settings from lg-gpt's flags (AdamW betas 0.9 and
// 0.95 with decay on matrices only, as GPT-2 and nanoGPT; cosine to lr / 10).
examples::LoopSettings loop_settings(const TrainConfig& config);

// The checkpoint's "config" entries: the model's settings, the vocabulary, the
// seed and the text it trained on (its source, content hash and length).
lg::Metadata checkpoint_metadata(const TrainConfig& config, const examples::CharVocab& vocab,
                                 const std::string& text_source, const std::string& text_hash,
                                 int64_t text_chars);

// The prompt's token ids; throws UsageError naming the first character of
// prompt that vocab lacks. Training calls it before the first step.
std::vector<int64_t> prompt_ids(const examples::CharVocab& vocab, const std::string& prompt);

struct GenerateOptions {
  int64_t length = 0;  // characters to generate
  double temperature = 1.0;
  int64_t top_k = 0;  // 0: every character
  // Keys and values of the context cached between characters (incremental
  // decoding). When the context is full, it restarts from its last half, so
  // that the model sees between seq_len/2 and seq_len characters; without the
  // cache every character is drawn from the whole last seq_len (and costs a
  // forward over all of them).
  bool cache = true;
};

// Continues prompt (every character must be in vocab; an empty prompt starts
// from a newline, or the first character of the vocabulary) with characters
// drawn one at a time from the model's next-character distribution,
// never <unk>. Calls emit with each new character's UTF-8 as it is drawn and
// returns them all. Draws use lasergrad's generator (seed it for a fixed sample).
std::string generate(const Gpt& model, const examples::CharVocab& vocab, const std::string& prompt,
                     const GenerateOptions& options, lg::Device device,
                     const std::function<void(const std::string&)>& emit = {});

// --fill: text with each kMaskMarker replaced by the masked LM's likeliest
// character there (all predicted in one forward, as BERT does; never <unk>).
// Throws UsageError for a character outside vocab, no marker, or a text
// longer than the model's context (a marker counts one character).
std::string fill_masks(const Gpt& model, const examples::CharVocab& vocab, const std::string& text,
                       lg::Device device);

// Prints "sample:" and `length` generated characters (streamed), seeded with
// config.seed, with config's prompt, temperature and top-k.
void print_sample(const Gpt& model, const examples::CharVocab& vocab, const TrainConfig& config,
                  lg::Device device, int64_t length);

}  // namespace gpt
