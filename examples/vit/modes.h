// lg-vit's modes; each returns the process exit status.
#pragma once
#include "vit_config.h"

namespace vit {

// Trains (or resumes) with validation accuracy, metrics, checkpoints and
// Ctrl-C handling, then reports on the test set (report_test).
int train(VitConfig config);
// --eval-only: the test report of the checkpoint in --out.
int eval_only(VitConfig config);
// --predict FILE: the checkpoint's classes for one image, likeliest first.
int predict(VitConfig config);
// --bench: the fixed benchmark model's training steps and inference, one JSON line.
int bench(const VitConfig& config);

}  // namespace vit
