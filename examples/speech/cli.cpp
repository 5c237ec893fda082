#include "cli.h"

#include <lasergrad/lasergrad.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <string>

#include "common/files.h"
#include "common/loop_flags.h"
#include "common/training_loop.h"

namespace speech {
namespace {

using examples::number_check;

void add_data_flags(CLI::App& app, SpeechConfig& c) {
  app.add_option("--data", c.data,
                 "Corpus folder: synthesised there with espeak-ng on first use (audio and "
                 "manifest.jsonl), reused afterwards")
      ->capture_default_str();
  app.add_option("--utterances", c.utterances,
                 "Utterances in the corpus (train, validation and test voices together)")
      ->check(number_check(true, 10, true))
      ->capture_default_str();
  app.add_option("--train-utterances", c.train_utterances,
                 "Train on only this many of the training utterances (0: all)")
      ->check(number_check(true, 0, true))
      ->capture_default_str();
  app.add_option("--prepare-threads", c.prepare_threads,
                 "Synthesis workers (0: one per core)")
      ->check(number_check(true, 0, true))
      ->capture_default_str();
  app.add_flag("--prepare-only", c.prepare_only, "Synthesise (or check) the corpus, then stop");
  app.add_flag("--spec-augment,!--no-spec-augment", c.spec_augment,
               "SpecAugment time and frequency masks on the training features")
      ->capture_default_str();
}

void add_model_flags(CLI::App& app, SpeechConfig& c) {
  const CLI::Validator positive = number_check(true, 1, true);
  app.add_option("--attention", c.attention, "Attention: laser or softmax")
      ->check(CLI::IsMember({"laser", "softmax"}))
      ->capture_default_str();
  app.add_option("--d-model", c.d_model, "Model width")->check(positive)->capture_default_str();
  app.add_option("--layers", c.layers, "Conformer blocks")->check(positive)->capture_default_str();
  app.add_option("--heads", c.heads, "Attention heads (must divide --d-model)")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--ffn-dim", c.ffn_dim, "Feed-forward width of each half-step module")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--conv-kernel", c.conv_kernel, "Depthwise convolution kernel (odd)")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--subsampling-channels", c.subsampling_channels,
                 "Channels of the two stride-2 convolutions in front")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--dropout", c.dropout, "Dropout probability")
      ->check(number_check(false, 0, true, 0.99))
      ->capture_default_str();
}

void add_training_flags(CLI::App& app, SpeechConfig& c) {
  const examples::LoopFlagWords words{.items = "utterances", .metric = "WER", .seeded_data = "SpecAugment"};
  examples::add_optimisation_flags(app, c, words);
  app.add_option("--beam", c.beam,
                 "CTC decoding: 1 greedy, N > 1 a prefix beam search keeping N prefixes")
      ->check(number_check(true, 1, true))
      ->capture_default_str();
  app.add_option("--worst", c.worst, "Rows of the test report's worst-errors table")
      ->check(number_check(true, 0, true))
      ->capture_default_str();
  examples::add_schedule_flags(app, c, words);
}

void add_run_flags(CLI::App& app, SpeechConfig& c) {
  examples::add_run_folder_flags(app, c);
  app.add_flag("--eval-only", c.eval_only,
               "Evaluate the checkpoint in --out on the test voices (report), no training");
  app.add_option("--transcribe", c.transcribe,
                 "Print the transcript of one recording (WAV, FLAC, ...; mono, resampled to "
                 "16 kHz) by the checkpoint in --out");
  app.add_flag("--bench", c.bench,
               "Time training steps of a fixed Conformer (4 blocks, d-model 144, 4 heads, conv "
               "kernel 15) on a fixed batch, one JSON line");
}

// The checkpoint the modes read: it must exist and be a regular file.
std::string checkpoint_problem(const SpeechConfig& c) {
  const char* mode = c.resume ? "--resume" : c.eval_only ? "--eval-only" : "--transcribe";
  const std::filesystem::path ckpt = examples::checkpoint_path(c.out);
  std::error_code ec;
  if (!std::filesystem::exists(ckpt, ec))
    return std::string(mode) + ": no checkpoint in --out " + c.out + " (expected " + ckpt.string() +
           ")";
  return examples::input_file_problem(mode, ckpt);
}

// The checks CLI11's per-flag validators cannot make; empty when all pass.
std::string check_flags(const SpeechConfig& c) {
  const int modes = int{c.resume} + int{c.eval_only} + int{!c.transcribe.empty()} + int{c.bench} +
                    int{c.prepare_only};
  if (modes > 1)
    return "--resume, --eval-only, --transcribe, --bench and --prepare-only exclude each other";
  if (!c.transcribe.empty())
    if (std::string p = examples::input_file_problem("--transcribe", c.transcribe); !p.empty())
      return p;
  if (c.resume || c.eval_only || !c.transcribe.empty())
    if (std::string p = checkpoint_problem(c); !p.empty()) return p;
  if (c.d_model % c.heads != 0)
    return "--d-model " + std::to_string(c.d_model) + " is not divisible by --heads " +
           std::to_string(c.heads);
  if (c.conv_kernel % 2 == 0)
    return "--conv-kernel " + std::to_string(c.conv_kernel) +
           " is even; the depthwise convolution needs an odd kernel to keep the length";
  if (c.device == "cuda" && !lg::cuda_is_available())
    return "--device cuda: no usable CUDA device (or this build has no CUDA backend)";
  return {};
}

}  // namespace

std::optional<int> parse_command_line(int argc, const char* const* argv, SpeechConfig& config,
                                      std::ostream& out, std::ostream& err) {
  CLI::App app{
      "lg-speech: train a Conformer with CTC on spoken digit strings synthesised with espeak-ng "
      "(LASER or softmax attention), report its word error rate on voices it never heard, and "
      "transcribe recordings with the result"};
  app.name("lg-speech");
  add_data_flags(app, config);
  add_model_flags(app, config);
  add_training_flags(app, config);
  add_run_flags(app, config);
  return examples::parse_flags(
      app, argc, argv, config.given, [&] { return check_flags(config); }, out, err);
}

}  // namespace speech
