// lg-speech's settings: every flag with its default. The defaults synthesise
// a corpus of spoken digit strings once (cached) and train a small Conformer
// with CTC on it in about a quarter of an hour on two cores.
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/flags.h"
#include "speech_model.h"

namespace speech {

struct SpeechConfig {
  // data
  std::string data = "data/speech-digits";  // the corpus cache (synthesised when missing)
  int utterances = 6000;                    // in the corpus, all splits
  int train_utterances = 0;                 // > 0: train on only this many (quick runs, tests)
  int prepare_threads = 0;                  // synthesis processes (0: every core)
  bool prepare_only = false;
  bool spec_augment = true;
  // model
  std::string attention = "laser";  // laser | softmax
  int d_model = 144;
  int layers = 4;
  int heads = 4;
  int ffn_dim = 576;
  int conv_kernel = 15;
  int subsampling_channels = 64;  // the benchmark model has 144: most of its FLOPs are there
  double dropout = 0.1;
  // optimisation
  int epochs = 8;
  int batch = 32;  // utterances per step
  double lr = 2e-3;
  int warmup = 300;
  double weight_decay = 0.01;
  double grad_clip = 1.0;
  double bucket_mb = 25;  // gradient buckets on several ranks
  // evaluation, checkpoints, logging
  int beam = 1;              // 1: greedy decoding; > 1: prefix beam search of this width
  int eval_every = 0;        // steps; 0: once per epoch
  int checkpoint_every = 0;  // 0: with every evaluation
  int log_every = 50;
  bool diagnose_gradients = false;  // gradients.jsonl/csv at log steps
  int worst = 10;  // rows of the worst-errors table
  uint64_t seed = 1;
  int threads = 0;
  std::string device = "cpu";
  std::string out = "runs/speech";
  bool resume = false;
  int stop_after = 0;
  // other modes
  bool bench = false;
  bool eval_only = false;
  std::string transcribe;       // a sound file to transcribe with the checkpoint in --out
  std::set<std::string> given;  // flags given on the command line

  // The flags a checkpoint records: what shapes the model and the data it
  // learned from, and the seed. Binds to this object's fields.
  std::vector<examples::SavedFlag> saved_flags();
  SpeechModelConfig model_config(int64_t vocab) const;
};

}  // namespace speech
