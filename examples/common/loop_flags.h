// The command-line flags of the shared training loop, the same in every
// trainer: optimisation (--epochs, --batch, --lr, --warmup, --weight-decay,
// --grad-clip), evaluation and checkpoints (--eval-every, --checkpoint-every,
// --log-every), --seed, --stop-after, and the run (--threads, --device, --out,
// --resume). Config is a trainer's settings struct with fields of those names;
// loop_settings.h turns those fields into the loop's settings.
#pragma once
#include <CLI/CLI.hpp>
#include <cctype>
#include <string>

#include "flags.h"
#include "loop_settings.h"

namespace examples {

// What the help texts say about a trainer's items and its validation metric.
struct LoopFlagWords {
  std::string items;        // "images": "Passes over the training images", "Images per step"
  std::string metric;       // "accuracy": "Validation accuracy every N steps"
  std::string seeded_data;  // "augmentation": "Seed for the weights, dropout, batch order and ..."
};

// --bucket-mb: DistributedDataParallel's gradient buckets under mpirun.
inline void add_bucket_flag(CLI::App& app, double& bucket_mb) {
  app.add_option("--bucket-mb", bucket_mb,
                 "MiB of gradients per all-reduce when training on several ranks (mpirun)")
      ->check(number_check(false, 0, false))
      ->capture_default_str();
}

// --diagnose-gradients (LoopSettings::diagnose_gradients).
inline void add_diagnose_gradients_flag(CLI::App& app, bool& diagnose) {
  app.add_flag("--diagnose-gradients", diagnose,
               "At every --log-every step, write each attention layer's gradient norms (W_Q, "
               "W_K, W_V, its input) and Jacobian magnitudes to gradients.jsonl/csv in --out");
}

template <typename Config>
void add_optimisation_flags(CLI::App& app, Config& c, const LoopFlagWords& words) {
  const CLI::Validator positive = number_check(true, 1, true),
                       non_negative = number_check(true, 0, true),
                       non_negative_real = number_check(false, 0, true);
  std::string per_step = words.items;
  if (!per_step.empty()) per_step[0] = static_cast<char>(std::toupper(per_step[0]));
  app.add_option("--epochs", c.epochs, "Passes over the training " + words.items)
      ->check(positive)
      ->capture_default_str();
  app.add_option("--batch", c.batch, per_step + " per step (on each rank under mpirun)")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--lr", c.lr, "Peak learning rate (cosine decay to lr/10)")
      ->check(number_check(false, 0, false))
      ->capture_default_str();
  app.add_option("--warmup", c.warmup, "Linear warm-up steps")
      ->check(non_negative)
      ->capture_default_str();
  app.add_option("--weight-decay", c.weight_decay, "AdamW weight decay (matrices and kernels)")
      ->check(non_negative_real)
      ->capture_default_str();
  app.add_option("--grad-clip", c.grad_clip, "Max gradient norm (0: no clipping)")
      ->check(non_negative_real)
      ->capture_default_str();
}

template <typename Config>
void add_schedule_flags(CLI::App& app, Config& c, const LoopFlagWords& words) {
  const CLI::Validator positive = number_check(true, 1, true),
                       non_negative = number_check(true, 0, true);
  app.add_option("--eval-every", c.eval_every,
                 "Validation " + words.metric + " every N steps (0: once per epoch)")
      ->check(non_negative)
      ->capture_default_str();
  app.add_option("--checkpoint-every", c.checkpoint_every,
                 "Checkpoint every N steps (0: with every evaluation); always at the end")
      ->check(non_negative)
      ->capture_default_str();
  app.add_option("--log-every", c.log_every, "Progress line every N steps when not on a terminal")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--seed", c.seed,
                 "Seed for the weights, dropout, batch order and " + words.seeded_data)
      ->check(non_negative)
      ->capture_default_str();
  app.add_option("--stop-after", c.stop_after,
                 "End this run after N steps with a checkpoint, to continue with --resume "
                 "(0: run to the end)")
      ->check(non_negative)
      ->capture_default_str();
  add_diagnose_gradients_flag(app, c.diagnose_gradients);
}

template <typename Config>
void add_run_folder_flags(CLI::App& app, Config& c) {
  app.add_option("--threads", c.threads, "CPU threads (0: every core)")
      ->check(number_check(true, 0, true))
      ->capture_default_str();
  app.add_option("--device", c.device, "cpu or cuda")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  app.add_option("--out", c.out, "Folder for checkpoints, metrics and the report")
      ->capture_default_str();
  app.add_flag("--resume", c.resume, "Continue from the checkpoint in --out");
  add_bucket_flag(app, c.bucket_mb);
}

}  // namespace examples
