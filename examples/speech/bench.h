// lg-speech's benchmark: the fixed speech model (4 Conformer blocks, d_model
// 144, 4 heads, FFN 576, conv kernel 15, subsampling 144, vocab 29, dropout
// 0.1) trained with AdamW and CTC on one fixed synthetic batch (32 utterances
// of 80 log-mel features, 200..300 frames = 2..3 s, random targets of 18..22
// symbols); prints one JSON line that compares with
// bench/pytorch/conformer_train.py's.
#pragma once
#include <lasergrad/nn/transformer.h>

#include <cstdint>
#include <cstdio>

#include "speech_model.h"

namespace speech {

struct SpeechBenchOptions {
  SpeechModelConfig model = {.vocab = 29};  // the benchmark model; tests use a tiny one
  int threads = 0;                          // CPU threads, 0: all cores
  int warmup_steps = 3;
  int steps = 10;  // timed training steps
  int64_t batch = 32;
  int64_t frames = 300;        // the longest utterance (10 ms frames)
  int64_t min_frames = 200;    // the shortest
  int64_t target_length = 20;  // targets have target_length - 2 .. target_length + 2 symbols
  uint64_t seed = 1234;
  lg::Device device = lg::Device::cpu();  // the model and the batch (built on the CPU) go here
};

// Runs the benchmark and writes one JSON line to `out`:
// {"bench":"train_speech","framework":"lasergrad","attention":..,"device":..,"threads":..,
//  "batch":..,"frames":..,"median_step_ms":..,"min_step_ms":..,"max_step_ms":..,"audio_s_per_s":..,
//  "peak_rss_mb":..,"params":..}
// audio_s_per_s: seconds of audio in the batch (10 ms frames) per second of
// training at the median step. Returns 0; bad options throw std::invalid_argument.
int run_speech_bench(const SpeechBenchOptions& options, std::FILE* out);
// The benchmark model with `attention` on `threads` threads (0: all cores), on `device`.
int run_speech_bench(lg::nn::AttentionKind attention, int threads, std::FILE* out,
                     lg::Device device = lg::Device::cpu());

}  // namespace speech
