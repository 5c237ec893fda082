#include "common/training_loop.h"

#include <lasergrad/distributed/data_parallel.h>
#include <lasergrad/nn/attention_diagnostics.h>
#include <lasergrad/nn/clip_grad.h>
#include <lasergrad/nn/files.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <thread>
#include <utility>

#include "common/interrupt.h"
#include "common/metrics.h"
#include "common/progress.h"
#include "common/ranks.h"

namespace examples {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<std::string> run_files(const LoopSettings& settings) {
  std::vector<std::string> files = {checkpoint_path(settings.out).filename().string(),
                                    "metrics.jsonl", "metrics.csv", "gradients.jsonl",
                                    "gradients.csv"};
  files.insert(files.end(), settings.other_files.begin(), settings.other_files.end());
  return files;
}

std::vector<double> evaluate_in_eval_mode(TrainingTask& task) {
  lg::NoGradGuard no_grad;
  task.model().eval();
  std::vector<double> result = task.evaluate();
  task.model().train();
  if (result.size() != task.eval_columns().size())
    throw std::logic_error("evaluate() returned " + std::to_string(result.size()) + " values for " +
                           std::to_string(task.eval_columns().size()) + " columns");
  return result;
}

// The loop's state between steps, and its pieces.
class Loop {
 public:
  Loop(const LoopSettings& settings, RunFolder& folder, TrainingTask& task,
       lg::optim::Optimizer& optimizer)
      : s_(settings), folder_(folder), task_(task), optimizer_(optimizer) {}

  LoopResult run();

 private:
  void restore();
  void join_ranks_state();
  void save();
  bool stop_requested() const { return world_ > 1 ? agreed_stop_ : interrupted(); }
  double agree(double loss);
  double train_step(double lr);  // the step's loss
  void after_step(double loss, double lr, double step_seconds);
  void start_diagnostics();
  std::vector<std::optional<double>> gradient_row() const;
  void report() const;
  LoopResult result(int exit_code, bool finished) const {
    return {.exit_code = exit_code,
            .finished = finished,
            .step = step_,
            .evaluation = finished ? last_eval_ : std::vector<double>{},
            .train_seconds = timed_};
  }

  const LoopSettings& s_;
  RunFolder& folder_;
  TrainingTask& task_;
  lg::optim::Optimizer& optimizer_;
  lg::Metadata metadata_;
  std::optional<MetricsWriter> metrics_;
  // --diagnose-gradients: the layers watched, their file (rank 0), the last measurement
  std::optional<lg::nn::AttentionDiagnostics> diagnostics_;
  std::optional<MetricsWriter> gradients_;
  std::vector<lg::nn::AttentionGradients> measured_;
  std::optional<ProgressLine> progress_;
  int64_t step_ = 0, first_step_ = 0, last_step_ = 0;
  Clock::time_point start_;
  double timed_ = 0;
  std::vector<double> last_eval_;
  // with several ranks
  const int world_ = world_size(), rank_ = rank();
  std::optional<lg::distributed::DistributedDataParallel> ddp_;
  std::vector<uint64_t> rank_offsets_;  // every rank's random-stream offset, agreed each step
  bool agreed_stop_ = false;
};

// The checkpoint entries of a run on several ranks.
const char* const kWorldSizeKey = "distributed.world_size";
const char* const kRankOffsetsKey = "distributed.rng_offsets";

std::string join_offsets(const std::vector<uint64_t>& offsets) {
  std::string text;
  for (uint64_t o : offsets) {
    if (!text.empty()) text += ',';
    text += std::to_string(o);
  }
  return text;
}

std::vector<uint64_t> split_offsets(const std::string& text, size_t expected) {
  std::vector<uint64_t> offsets;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    offsets.push_back(std::stoull(text.substr(start, comma - start)));
    start = comma + 1;
  }
  if (offsets.size() != expected)
    throw std::runtime_error(std::string("the checkpoint's ") + kRankOffsetsKey + " has " +
                             std::to_string(offsets.size()) + " entries for " +
                             std::to_string(expected) + " ranks");
  return offsets;
}

void Loop::restore() {
  std::optional<lg::TrainingCheckpoint>& resumed = folder_.resumed();
  if (!resumed) return;
  const auto world = resumed->config.find(kWorldSizeKey);
  const int trained_on = world == resumed->config.end() ? 1 : std::stoi(world->second);
  if (trained_on != world_)
    throw InputError("--resume: the checkpoint was trained on " + std::to_string(trained_on) +
                     (trained_on == 1 ? " rank" : " ranks") + ", this run has " +
                     std::to_string(world_) + ": resume with " +
                     (trained_on == 1 ? std::string("one process")
                                      : "mpirun -np " + std::to_string(trained_on)));
  task_.model().load_state_dict(resumed->model);
  optimizer_.load_state_dict(resumed->optimizer);
  lg::set_rng_state(resumed->rng);
  if (world_ > 1) {
    rank_offsets_ = split_offsets(resumed->config.at(kRankOffsetsKey), static_cast<size_t>(world_));
    lg::set_rng_state({.seed = rank_seed(resumed->rng.seed, rank_),
                       .offset = rank_offsets_[static_cast<size_t>(rank_)]});
  }
  step_ = resumed->step;
  resumed.reset();
}

// Several ranks: rank 0's weights everywhere, the gradients averaged, and a
// random stream of each rank's own (rank_seed) for a fresh run.
void Loop::join_ranks_state() {
  if (world_ == 1) return;
  ddp_.emplace(task_.model(), lg::distributed::DataParallelOptions{.bucket_mb = s_.bucket_mb});
  if (rank_offsets_.empty()) {
    const lg::RngState mine = lg::get_rng_state();
    lg::set_rng_state({.seed = rank_seed(mine.seed, rank_), .offset = mine.offset});
    rank_offsets_.assign(static_cast<size_t>(world_), mine.offset);
  }
}

// Only rank 0 writes; the others' random streams are in the checkpoint as
// their offsets (agreed every step), their seeds follow from rank 0's.
void Loop::save() {
  if (rank_ != 0) return;
  lg::Metadata config = metadata_;
  config[kWorldSizeKey] = std::to_string(world_);
  lg::RngState rng = lg::get_rng_state();
  if (world_ > 1) {
    config[kRankOffsetsKey] = join_offsets(rank_offsets_);
    rng.offset = rank_offsets_[0];
  }
  lg::save_checkpoint(folder_.checkpoint().string(), {.model = task_.model().state_dict(),
                                                      .optimizer = optimizer_.state_dict(),
                                                      .step = step_,
                                                      .rng = rng,
                                                      .config = config});
}

// Several ranks: the mean loss, whether any rank was interrupted, and every
// rank's random-stream offset, in one small all-reduce per step.
double Loop::agree(double loss) {
  if (world_ == 1) return loss;
  std::vector<double> values(2 + static_cast<size_t>(world_), 0.0);
  values[0] = loss;
  values[1] = interrupted() ? 1 : 0;
  const uint64_t offset = lg::get_rng_state().offset;
  if (offset >= (uint64_t{1} << 53))
    throw std::runtime_error("the random stream's offset passed 2^53, which the ranks cannot agree on");
  values[2 + static_cast<size_t>(rank_)] = static_cast<double>(offset);
  values = lg::distributed::all_reduce(std::move(values), lg::distributed::ReduceOp::Sum);
  agreed_stop_ = values[1] > 0;
  for (int r = 0; r < world_; ++r)
    rank_offsets_[static_cast<size_t>(r)] = static_cast<uint64_t>(values[2 + static_cast<size_t>(r)]);
  return values[0] / world_;
}

double Loop::train_step(double lr) {
  optimizer_.set_lr(lr);
  const bool diagnose = diagnostics_ && (step_ + 1) % s_.log_every == 0;
  if (diagnose) diagnostics_->arm();
  lg::Tensor loss = task_.loss(step_ + 1);
  optimizer_.zero_grad();
  loss.backward();
  // The gradients as backward left them (averaged over ranks), before clipping.
  if (diagnose) measured_ = diagnostics_->collect();
  if (s_.grad_clip > 0) lg::nn::clip_grad_norm(task_.model().parameters(), s_.grad_clip);
  optimizer_.step();
  const double value = agree(loss.item<double>());
  if (!std::isfinite(value))
    throw std::runtime_error("the training loss is " + std::to_string(value) + " at step " +
                             std::to_string(step_ + 1) + ": try a lower --lr");
  ++step_;
  return value;
}

void Loop::after_step(double loss, double lr, double step_seconds) {
  timed_ += step_seconds;
  const double elapsed = seconds_since(start_);
  const double throughput = s_.items_per_step * world_ / step_seconds;
  progress_->update({.step = step_,
                     .total = s_.steps,
                     .loss = loss,
                     .lr = lr,
                     .items_per_s = throughput,
                     .elapsed_s = elapsed});
  std::vector<std::optional<double>> row = {loss};
  if (step_ % s_.eval_every == 0 || step_ == s_.steps) {
    last_eval_ = evaluate_in_eval_mode(task_);
    progress_->message("step " + std::to_string(step_) + ": " + task_.describe(last_eval_));
    row.insert(row.end(), last_eval_.begin(), last_eval_.end());
  } else {
    row.resize(1 + task_.eval_columns().size());
  }
  row.insert(row.end(), {lr, throughput, elapsed, peak_rss_mb()});
  try {
    if (metrics_) metrics_->write(step_, row);
    if (gradients_ && !measured_.empty()) gradients_->write(step_, gradient_row());
    measured_.clear();
  } catch (const MetricsWriteError& e) {
    progress_->finish();
    stop_after_metrics_error(
        e, step_, [this] { save(); }, folder_.checkpoint().string());
  }
  const int64_t every = s_.checkpoint_every > 0 ? s_.checkpoint_every : s_.eval_every;
  if (step_ % every == 0 || step_ == last_step_) save();
}

// The columns of gradients.jsonl/csv: per attention layer, its name and the
// measurement ("blocks.0.self_attn.w_q").
const char* const kGradientColumns[] = {"w_q", "w_k", "w_v", "input", "softmax_jacobian",
                                        "score_jacobian"};

void Loop::start_diagnostics() {
  if (!s_.diagnose_gradients) return;
  diagnostics_.emplace(task_.model());
  if (rank_ != 0) return;
  std::vector<std::string> columns;
  for (const std::string& layer : diagnostics_->names())
    for (const char* c : kGradientColumns) columns.push_back(layer + "." + c);
  gradients_.emplace(s_.out, columns, step_ > 0 ? std::optional<int64_t>(step_) : std::nullopt,
                     "gradients");
  std::printf("gradient diagnostics: %zu attention layers every %lld steps, to %s\n",
              diagnostics_->names().size(), static_cast<long long>(s_.log_every),
              gradients_->jsonl_path().c_str());
}

std::vector<std::optional<double>> Loop::gradient_row() const {
  std::vector<std::optional<double>> row;
  for (const lg::nn::AttentionGradients& g : measured_)
    for (double v : {g.w_q, g.w_k, g.w_v, g.input, g.softmax_jacobian, g.score_jacobian})
      row.push_back(g.measured ? std::optional<double>(v) : std::nullopt);
  return row;
}

void Loop::report() const {
  std::printf(
      "final %s after %lld steps (%s training here, %.0f %s/s); peak RSS %.0f MB; "
      "checkpoint %s\n",
      task_.describe(last_eval_).c_str(), static_cast<long long>(step_),
      format_duration(timed_).c_str(),
      timed_ > 0 ? s_.items_per_step * world_ * static_cast<double>(step_ - first_step_) / timed_
                 : 0.0,
      s_.items.c_str(), peak_rss_mb(), folder_.checkpoint().c_str());
}

LoopResult Loop::run() {
  restore();
  join_ranks_state();
  metadata_ = task_.checkpoint_metadata();
  if (step_ > 0)
    std::printf("resuming from %s at step %lld\n", folder_.checkpoint().c_str(),
                static_cast<long long>(step_));
  std::fflush(stdout);
  std::vector<std::string> columns = {"train_loss"};
  for (const std::string& c : task_.eval_columns()) columns.push_back(c);
  for (const char* c : {"lr", "", "elapsed_s", "peak_rss_mb"})
    columns.push_back(*c ? c : s_.items + "_per_s");
  if (rank_ == 0)
    metrics_.emplace(s_.out, columns, step_ > 0 ? std::optional<int64_t>(step_) : std::nullopt);
  start_diagnostics();
  // Under mpirun stdout is a pty forwarded by mpirun, wherever it ends up: plain lines.
  progress_.emplace(stdout, world_ == 1 && ProgressLine::is_terminal(stdout), s_.log_every,
                    s_.items_short);
  progress_->start(step_);
  first_step_ = step_;
  last_step_ = s_.stop_after > 0 ? std::min(s_.steps, step_ + s_.stop_after) : s_.steps;
  install_interrupt_handler();
  task_.start(step_);
  task_.model().train();
  start_ = Clock::now();
  while (step_ < last_step_) {
    if (stop_requested()) {
      progress_->finish();
      save();
      if (rank_ == 0)
        std::fprintf(stderr,
                   "%s: interrupted at step %lld; checkpoint saved to %s (--resume continues)\n",
                   s_.program.c_str(), static_cast<long long>(step_), folder_.checkpoint().c_str());
      return result(interrupted_exit_code(), false);
    }
    const Clock::time_point step_start = Clock::now();
    const double lr = learning_rate(s_, step_ + 1);
    const double loss = train_step(lr);
    after_step(loss, lr, seconds_since(step_start));
  }
  progress_->finish();
  if (step_ < s_.steps) {
    std::printf("stopped after step %lld of %lld (--stop-after); --resume continues from %s\n",
                static_cast<long long>(step_), static_cast<long long>(s_.steps),
                folder_.checkpoint().c_str());
    return result(0, false);
  }
  if (last_eval_.empty()) last_eval_ = evaluate_in_eval_mode(task_);
  report();
  return result(0, true);
}

}  // namespace

lg::Device setup_runtime(int threads, const std::string& device) {
  lg::set_num_threads(threads > 0 ? threads : default_threads());
  return device == "cuda" ? lg::Device::cuda(0) : lg::Device::cpu();
}

std::filesystem::path checkpoint_path(const std::string& out) {
  return std::filesystem::path(out) / "checkpoint.safetensors";
}

double learning_rate(const LoopSettings& s, int64_t step) {
  if (step <= s.warmup) return s.lr * static_cast<double>(step) / static_cast<double>(s.warmup + 1);
  const double min_lr = s.lr * s.min_lr_ratio;
  const double progress = static_cast<double>(step - s.warmup) /
                          static_cast<double>(std::max<int64_t>(1, s.steps - s.warmup));
  const double pi = std::acos(-1.0);
  return min_lr + 0.5 * (s.lr - min_lr) * (1.0 + std::cos(pi * std::min(1.0, progress)));
}

std::unique_ptr<lg::optim::AdamW> make_adamw(const lg::nn::Module& model, const LoopSettings& s) {
  std::vector<lg::Tensor> decay, no_decay;
  for (const lg::Tensor& p : model.parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  return make_adamw(std::move(decay), std::move(no_decay), s);
}

std::unique_ptr<lg::optim::AdamW> make_adamw(std::vector<lg::Tensor> decay,
                                             std::vector<lg::Tensor> no_decay,
                                             const LoopSettings& s) {
  return std::make_unique<lg::optim::AdamW>(
      std::vector<lg::optim::ParamGroup>{{.params = std::move(decay)},
                                         {.params = std::move(no_decay), .weight_decay = 0.0}},
      lg::optim::AdamWOptions{
          .lr = s.lr, .beta1 = s.beta1, .beta2 = s.beta2, .weight_decay = s.weight_decay});
}

namespace {
// Rank 0 reads the checkpoint and sends its bytes, or why it could not, to the
// others, so that every rank fails alike.
lg::TrainingCheckpoint load_on_every_rank(const std::filesystem::path& path) {
  if (world_size() == 1) return lg::load_checkpoint(path.string());
  std::string message;
  if (rank() == 0) {
    try {
      message = lg::read_regular_file("--resume", path.string());
      message.insert(message.begin(), '+');
    } catch (const std::exception& e) {
      message.assign(1, '-').append(e.what());
    }
  }
  message = lg::distributed::broadcast_bytes(std::move(message), 0);
  if (message.empty() || message[0] != '+') throw std::runtime_error(message.substr(1));
  message.erase(0, 1);
  return lg::parse_checkpoint(message, path.string() + " (read by rank 0)");
}
}  // namespace

RunFolder::RunFolder(const LoopSettings& settings) : checkpoint_(checkpoint_path(settings.out)) {
  if (rank() == 0) lock_.emplace(claim_run_folder(settings.out, run_files(settings), settings.program));
  if (settings.resume) resumed_ = load_on_every_rank(checkpoint_);
}

LoopResult run_training(const LoopSettings& settings, RunFolder& folder, TrainingTask& task,
                        lg::optim::Optimizer& optimizer) {
  if (settings.steps < 1 || settings.eval_every < 1)
    throw std::invalid_argument("run_training: steps and eval_every must be at least 1");
  return Loop(settings, folder, task, optimizer).run();
}

void stop_after_metrics_error(const std::exception& error, int64_t step,
                              const std::function<void()>& save, const std::string& checkpoint) {
  const std::string stopped =
      std::string(error.what()) + "; training stopped at step " + std::to_string(step);
  try {
    save();
  } catch (const std::exception& e) {
    throw std::runtime_error(stopped +
                             ", and the checkpoint could not be saved either: " + e.what());
  }
  throw std::runtime_error(stopped + "; checkpoint saved to " + checkpoint +
                           " (free space, then --resume continues)");
}

}  // namespace examples
