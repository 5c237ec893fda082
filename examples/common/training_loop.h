// The training loop the example trainers share. A trainer supplies its model,
// its training loss, its evaluation and what its checkpoint records (a
// TrainingTask); the loop does the rest: AdamW with decay on matrices only,
// linear warm-up then cosine decay, gradient clipping, periodic evaluation, the
// progress line, metrics.jsonl/csv, atomic checkpoints every K steps, at the
// end, on Ctrl-C/SIGTERM and on a failed metrics write, exact --resume,
// --stop-after, and the final report line.
//
// Under mpirun every rank runs the same program (common/ranks.h): the loop
// averages the gradients across ranks (DistributedDataParallel), agrees on the
// loss it logs and on stopping (Ctrl-C, SIGTERM) every step, and only rank 0
// locks and writes the run folder; a checkpoint records the world size and
// every rank's random stream, and resumes only on as many ranks. The task
// draws this rank's part of each batch itself (examples::rank(), world_size()).
//
// A trainer's use, in order:
//   examples::RunFolder folder(settings);         // lock, stale files, the checkpoint to resume
//   ... read folder.resumed()->config, build the data and the model ...
//   auto optimizer = examples::make_adamw(model, settings);
//   MyTask task(...);                             // a TrainingTask
//   examples::LoopResult r = examples::run_training(settings, folder, task, *optimizer);
#pragma once
#include <lasergrad/lasergrad.h>
#include <lasergrad/nn/checkpoint.h>
#include <lasergrad/nn/module.h>
#include <lasergrad/nn/optimizer.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/run_lock.h"

namespace examples {

// The loop's settings, taken from a trainer's flags.
struct LoopSettings {
  std::string program;     // "lg-gpt": starts the loop's messages
  std::string out;         // the run folder
  bool resume = false;     // continue from <out>/checkpoint.safetensors
  int64_t steps = 0;       // optimizer steps of the whole run
  int64_t stop_after = 0;  // > 0: end this process after so many steps, with a checkpoint
  // optimisation
  double lr = 1e-3;  // peak, after warm-up; cosine decay to lr * min_lr_ratio at `steps`
  double min_lr_ratio = 0.1;
  int64_t warmup = 0;
  double weight_decay = 0.0;  // on matrices (dim >= 2) only
  double beta1 = 0.9, beta2 = 0.95;
  double grad_clip = 0.0;  // max global gradient norm; 0: no clipping
  // evaluation, checkpoints, logging
  int64_t eval_every = 100;
  int64_t checkpoint_every = 0;  // 0: with every evaluation
  int64_t log_every = 50;        // plain progress lines when stdout is not a terminal
  // every log_every steps: each attention layer's gradient norms and Jacobian
  // means (lg::nn::AttentionDiagnostics) to <out>/gradients.jsonl and .csv
  bool diagnose_gradients = false;
  // throughput: items (tokens, images) per step and rank, their plural name
  // and the progress line's short form ("tokens", "tok")
  double items_per_step = 1;
  std::string items = "items";
  std::string items_short = "items";
  // several ranks: MiB of gradients per all-reduce (DistributedDataParallel)
  double bucket_mb = 25;
  // extra files the trainer writes atomically into the run folder (reports,
  // pictures): their stale temp files are removed at start-up as well
  std::vector<std::string> other_files;
};

// Sets the CPU thread count (0: every core, shared among this machine's ranks)
// and returns the device ("cpu" or "cuda") a trainer runs on (several GPUs:
// each rank's own as its cuda:0, docs/distributed.md).
lg::Device setup_runtime(int threads, const std::string& device);

// <out>/checkpoint.safetensors.
std::filesystem::path checkpoint_path(const std::string& out);

// Linear warm-up to lr over `warmup` steps, then cosine decay to
// lr * min_lr_ratio at `steps`; step counts from 1. A function of the step
// only, so that a resumed run follows the same schedule.
double learning_rate(const LoopSettings& settings, int64_t step);

// AdamW over the module's parameters: weight decay on matrices (dim >= 2:
// linear and conv weights, embeddings), none on biases, LayerNorm parameters
// and other vectors, as GPT-2, nanoGPT and timm do.
std::unique_ptr<lg::optim::AdamW> make_adamw(const lg::nn::Module& model,
                                             const LoopSettings& settings);
// AdamW with settings.weight_decay on `decay` and none on `no_decay`, for a
// trainer that draws the line elsewhere (a ViT's class token and position
// embeddings are tensors of dim 3 that are not decayed).
std::unique_ptr<lg::optim::AdamW> make_adamw(std::vector<lg::Tensor> decay,
                                             std::vector<lg::Tensor> no_decay,
                                             const LoopSettings& settings);

// A run folder claimed for training: locked for this process's life (a second
// run on it is an InputError naming the holder), its special files refused,
// its stale temp files removed; with settings.resume, the checkpoint loaded.
// With several ranks, rank 0 claims the folder and reads the checkpoint, and
// sends its bytes to the others (the folder need not be shared).
class RunFolder {
 public:
  explicit RunFolder(const LoopSettings& settings);

  const std::filesystem::path& checkpoint() const { return checkpoint_; }
  // The checkpoint being resumed (its config tells the trainer what to build);
  // run_training consumes it.
  std::optional<lg::TrainingCheckpoint>& resumed() { return resumed_; }

 private:
  std::filesystem::path checkpoint_;
  std::optional<RunLock> lock_;  // rank 0's
  std::optional<lg::TrainingCheckpoint> resumed_;
};

// What a trainer supplies to the loop.
class TrainingTask {
 public:
  virtual ~TrainingTask() = default;
  virtual lg::nn::Module& model() = 0;
  // Called once before the first step this process trains (first_step: the
  // steps done before, 0 unless resumed), e.g. to start a data loader there.
  virtual void start(int64_t /*first_step*/) {}
  // The training loss of step `step` (counting from 1), in train mode. Must
  // depend only on the step, the data, the model and lasergrad's generator,
  // so that a resumed run repeats an uninterrupted one exactly.
  virtual lg::Tensor loss(int64_t step) = 0;
  // The metrics evaluate() returns, in order: their metrics-file columns
  // ("val_loss", "val_acc", ...).
  virtual std::vector<std::string> eval_columns() const = 0;
  // Evaluation on the validation data; the loop has switched to eval mode and
  // turned gradients off.
  virtual std::vector<double> evaluate() = 0;
  // The evaluation in words: "validation loss 1.2345".
  virtual std::string describe(const std::vector<double>& evaluation) const = 0;
  // The checkpoint's "config" entries (what --resume must find again).
  virtual lg::Metadata checkpoint_metadata() const = 0;
};

struct LoopResult {
  int exit_code = 0;               // 0, or 128 + the signal when interrupted (checkpoint saved)
  bool finished = false;           // every step of the run is done (not stopped by --stop-after)
  int64_t step = 0;                // steps done, counting those before a resume
  std::vector<double> evaluation;  // the last evaluation (finished runs only)
  double train_seconds = 0;        // time in training steps in this process
};

// Runs the loop (see the top of this file): restores model, optimizer,
// generator and step from folder.resumed() if there is one, trains to
// settings.steps (or stop_after more steps), and prints the final report line
// for a finished run. Throws std::runtime_error on a non-finite loss or a
// failed metrics write (after saving a checkpoint where it can).
LoopResult run_training(const LoopSettings& settings, RunFolder& folder, TrainingTask& task,
                        lg::optim::Optimizer& optimizer);

// After a failed metrics write at `step`: saves a checkpoint if it can, then
// throws std::runtime_error saying what failed and whether the checkpoint was saved.
[[noreturn]] void stop_after_metrics_error(const std::exception& error, int64_t step,
                                           const std::function<void()>& save,
                                           const std::string& checkpoint);

}  // namespace examples
