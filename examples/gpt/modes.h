// lg-gpt's modes; each returns the process exit status.
#pragma once
#include "train_config.h"

namespace gpt {

// Trains (or resumes) with evaluation, metrics, checkpoints and Ctrl-C
// handling, then prints the final validation loss and a sample.
int train(TrainConfig config);
// --sample N: generates from the checkpoint in --out.
int sample(TrainConfig config);
// --fill TEXT: fills TEXT's [MASK]s with the masked LM in --out.
int fill(TrainConfig config);
// --bench: times training steps of the fixed benchmark model, one JSON line.
int bench(TrainConfig config);

}  // namespace gpt
