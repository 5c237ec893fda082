// The shared training loop's settings and batch order from a trainer's Config
// (a struct with the fields loop_flags.h's flags set: epochs, batch, lr, warmup,
// weight_decay, grad_clip, eval_every, checkpoint_every, log_every, seed,
// stop_after, diagnose_gradients, out, resume, bucket_mb). Apart from the
// flags so that the code that trains does not compile CLI11.
#pragma once
#include <algorithm>
#include <cstdint>

#include "data_loader.h"
#include "training_loop.h"

namespace examples {

// The loop's settings from a trainer's Config, for steps_per_epoch steps per
// epoch; the trainer adds its program name, betas, item names and files.
template <typename Config>
LoopSettings loop_settings_from(const Config& c, int64_t steps_per_epoch) {
  LoopSettings s;
  s.out = c.out;
  s.resume = c.resume;
  s.steps = steps_per_epoch * c.epochs;
  s.stop_after = c.stop_after;
  s.lr = c.lr;
  s.warmup = std::min<int64_t>(c.warmup, s.steps / 2);
  s.weight_decay = c.weight_decay;
  s.grad_clip = c.grad_clip;
  s.eval_every = c.eval_every > 0 ? c.eval_every : steps_per_epoch;
  s.checkpoint_every = c.checkpoint_every;
  s.log_every = c.log_every;
  s.diagnose_gradients = c.diagnose_gradients;
  s.items_per_step = c.batch;
  s.bucket_mb = c.bucket_mb;
  return s;
}

// The training batches' order: train_size samples shuffled by --seed per
// epoch, full batches of --batch, none at or after `steps`.
template <typename Config>
LoaderOptions training_order(const Config& c, int64_t train_size, int64_t steps) {
  return {.num_samples = train_size,
          .batch_size = c.batch,
          .seed = c.seed,
          .shuffle = true,
          .drop_last = true,
          .start_step = 0,
          .stop_step = steps};
}

}  // namespace examples
