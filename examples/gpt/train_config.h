// lg-gpt's settings: every flag with its default. The defaults train a small
// character model on the King James Bible in a few minutes on two cores; the
// model-size defaults are the ones to tune (see kDefault* below).
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>

namespace gpt {

struct TrainConfig {
  // data
  std::string data;                           // a UTF-8 text file; empty: the King James Bible
  int64_t max_data_bytes = int64_t{1} << 30;  // --data larger than this is refused
  // objective
  std::string objective = "clm";  // clm: next character (causal); mlm: masked characters (BERT)
  double mask_prob = 0.15;        // mlm: the share of positions masked
  // model
  std::string attention = "laser";  // laser | softmax
  int layers = 4;
  int d_model = 128;
  int heads = 4;
  int seq_len = 128;
  double dropout = 0.0;
  // optimisation
  int batch = 16;
  int steps = 1500;
  double lr = 2e-3;  // peak, after warmup; cosine decay to lr / 10
  int warmup = 100;
  double weight_decay = 0.1;
  double grad_clip = 1.0;  // max global gradient norm; 0 turns clipping off
  double bucket_mb = 25;   // gradient buckets on several ranks (mpirun)
  // evaluation, checkpoints, logging
  int eval_every = 100;
  int eval_batches = 8;
  int checkpoint_every = 0;  // 0: with every evaluation
  int log_every = 50;        // plain progress lines when stdout is not a terminal
  uint64_t seed = 1337;
  int threads = 0;  // 0: every core
  std::string device = "cpu";
  std::string out = "runs/gpt";
  bool resume = false;
  int stop_after = 0;  // > 0: end this run after so many steps, with a checkpoint
  // generation
  int sample = 0;  // > 0: generate this many characters from the checkpoint, no training
  double temperature = 0.8;
  int top_k = 0;  // 0: sample from every character
  std::string prompt;
  std::string fill;  // mlm: text with [MASK]s for the checkpoint in --out to fill
  bool diagnose_gradients = false;
  bool bench = false;
  std::set<std::string> given;  // the flags given on the command line ("--layers", ...)

  // The settings that shape the model and the data it reads, which a
  // checkpoint records so that --resume and --sample rebuild the same model.
  std::map<std::string, std::string> model_metadata() const;
  // Sets the fields model_metadata() wrote; throws std::runtime_error naming a
  // missing or malformed entry.
  void apply_model_metadata(const std::map<std::string, std::string>& metadata);
  // For --resume: apply_model_metadata and the seed, after checking that no
  // flag in `given` says otherwise; throws UsageError naming each conflicting
  // flag with its value and the checkpoint's.
  void apply_resume_metadata(const std::map<std::string, std::string>& metadata);
  // For --sample: the same for the model flags (--seed seeds the sample, so it
  // may differ), "--sample: the checkpoint was trained with other settings: ...".
  // --fill (mode) checks the same.
  void apply_sample_metadata(const std::map<std::string, std::string>& metadata,
                             const std::string& mode = "--sample");
};

// For --resume: throws UsageError when the text (its source, content hash and
// length in characters) is not the one the checkpoint records. A checkpoint
// from before gpt.text_hash is checked by length only.
void check_resume_text(const std::map<std::string, std::string>& metadata,
                       const std::string& source, const std::string& hash, int64_t chars);

// The token --fill's text marks a character to predict with.
inline constexpr const char* kMaskMarker = "[MASK]";

// Characters printed after training when --sample is not given.
inline constexpr int kSampleAfterTraining = 300;

}  // namespace gpt
