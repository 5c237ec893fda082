// lg-speech's corpus: spoken digit strings synthesised with espeak-ng into a
// cache folder, with noise, once; later runs with the same options reuse it.
// Utterance i is fixed by (seed, i) alone, so the corpus does not depend on
// the number of threads that made it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "manifest.h"
#include "speakers.h"

namespace speech {

struct CorpusOptions {
  std::string dir;  // the corpus folder: manifest.jsonl, audio/<split>/<i>.wav, lock
  int64_t utterances = 6000;
  uint64_t seed = 1;
  int threads = 0;       // 0: std::thread::hardware_concurrency()
  bool progress = true;  // the progress line and the closing line on stderr
  std::string espeak = "espeak-ng";
};

// What utterance index of a corpus with this seed says and how. Its split is
// fixed by index % 10 (0-7 train, 8 validation, 9 test); the speaker is one
// of that split's; speed 130-200 words a minute, pitch 30-70; 15% are clean,
// the rest have white, pink or brown noise at 5-30 dB SNR.
struct UtterancePlan {
  Split split = Split::Train;
  Speaker speaker;
  int speed = 0, pitch = 0;
  std::string transcript;
  Noise noise = Noise::None;
  double snr_db = kCleanSnrDb;
  uint64_t noise_seed = 0;
};
UtterancePlan plan_utterance(uint64_t seed, int64_t index);

// The corpus in options.dir, index order: reused where its manifest has these
// options' seed and count, says what the plan says and all its audio files
// exist; else synthesised afresh on options.threads threads (the old manifest
// and audio/ removed first, the manifest written last and atomically). Holds
// the folder's lock (examples::RunLock) meanwhile, first waiting while another
// run holds it. Throws examples::InputError for bad options or a missing
// espeak-ng, std::runtime_error where synthesis fails (naming the espeak-ng
// command) or where the process got SIGINT/SIGTERM with
// examples::install_interrupt_handler() in place.
std::vector<Utterance> prepare_corpus(const CorpusOptions& options);

// The utterances of one split, in their order.
std::vector<Utterance> select(const std::vector<Utterance>& utterances, Split split);

}  // namespace speech
