// lg-speech's modes; each returns the process exit status.
#pragma once
#include "speech_config.h"

namespace speech {

// --prepare-only: synthesises (or checks) the corpus of --data and stops.
int prepare_only(const SpeechConfig& config);
// Trains (or resumes) with validation WER, metrics, checkpoints and Ctrl-C
// handling, then reports on the test voices (report_test).
int train(SpeechConfig config);
// --eval-only: the test report of the checkpoint in --out.
int eval_only(SpeechConfig config);
// --transcribe FILE: the checkpoint's transcript of one recording.
int transcribe(SpeechConfig config);
// --bench: the fixed benchmark model's training steps, one JSON line.
int bench(const SpeechConfig& config);

}  // namespace speech
