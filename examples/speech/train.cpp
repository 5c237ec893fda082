// lg-speech's training: its part of the shared loop (examples/common/training_loop.h)
// is SpeechTask: batches from the prefetching loader (audio read, log-mel and
// SpecAugment on the loader's thread), CTC loss, validation loss, WER and CER.
// Under mpirun each rank trains on its part of every batch of all ranks and
// scores its part of the validation utterances; rank 0 alone writes the test
// report.
#include <lasergrad/distributed/distributed.h>

#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>

#include "common/data_loader.h"
#include "common/loop_settings.h"
#include "common/ranks.h"
#include "common/training_loop.h"
#include "modes.h"
#include "session.h"
#include "speech_batch.h"
#include "test_report.h"
#include "vocabulary.h"

namespace speech {
namespace {

examples::LoopSettings loop_settings(const SpeechConfig& c, int64_t steps_per_epoch) {
  examples::LoopSettings s = examples::loop_settings_from(c, steps_per_epoch);
  s.program = "lg-speech";
  s.beta1 = 0.9;
  s.beta2 = 0.98;
  s.items = "utterances";
  s.items_short = "utt";
  s.other_files = report_file_names();
  return s;
}

// The utterances of one step on all ranks: --batch is per rank, as in
// PyTorch's DDP, so every rank's part of a step has --batch utterances.
int64_t global_batch(const SpeechConfig& c) { return int64_t{c.batch} * examples::world_size(); }

// Batches per pool of length_bucketed_batches: long enough to group similar
// lengths, short enough that the epoch's order stays well mixed.
constexpr int64_t kBucketPool = 20;

class SpeechTask : public examples::TrainingTask {
 public:
  SpeechTask(SpeechModel& model, const Corpus& corpus, const SpeechConfig& config, int64_t steps,
             lg::Device device, lg::Metadata metadata)
      : model_(model),
        corpus_(corpus),
        config_(config),
        steps_(steps),
        device_(device),
        metadata_(std::move(metadata)),
        val_(examples::this_ranks_part(corpus.val)) {}

  lg::nn::Module& model() override { return model_; }
  void start(int64_t first_step) override {
    examples::LoaderOptions order =
        examples::training_order(config_, static_cast<int64_t>(corpus_.train.size()), steps_);
    order.batch_size = global_batch(config_);
    order.start_step = first_step;
    const BatchSettings settings{.spec_augment = config_.spec_augment, .augment_options = {}};
    std::vector<double> durations;
    for (const Utterance& u : corpus_.train) durations.push_back(u.duration_s);
    // The loader numbers the steps; which utterances a step trains on is the
    // length-bucketed order of its epoch (recomputed per batch: a few
    // microseconds for thousands of utterances, and nothing to keep in step).
    // The batches are those of all ranks (a run of one process with their
    // size makes the same); this rank takes its contiguous part of each.
    loader_.emplace(order, [this, settings, durations](const examples::BatchRequest& r) {
      const std::vector<std::vector<int64_t>> batches = length_bucketed_batches(
          durations, global_batch(config_), kBucketPool, r.seed, r.epoch);
      return make_speech_batch(
          corpus_.train, mel_,
          examples::this_ranks_part(batches.at(static_cast<size_t>(r.index_in_epoch))), r.seed,
          r.epoch, settings);
    });
  }
  lg::Tensor loss(int64_t step) override {
    if (loader_->step() != step - 1)
      throw std::logic_error("SpeechTask: step " + std::to_string(step) + " after the loader's " +
                             std::to_string(loader_->step()));
    const SpeechBatch b = loader_->next();
    // The lengths stay on the CPU: the model reads them there (no device round trip).
    auto [log_probs, lengths] = model_.forward(b.features.to(device_), b.lengths);
    return lg::ctc_loss(log_probs, b.targets.to(device_), lengths, b.target_lengths.to(device_),
                        {.blank = kBlank, .reduction = lg::Reduction::Mean, .zero_infinity = true});
  }
  std::vector<std::string> eval_columns() const override {
    return {"val_loss", "val_wer", "val_cer"};
  }
  // This rank's sums (loss, edits, reference lengths), added up over the
  // ranks: the scores of the whole validation set.
  std::vector<double> evaluate() override {
    SetScores s;
    if (!val_.empty()) s = score_set(model_, val_, mel_, config_.batch, config_.beam, device_);
    if (examples::world_size() > 1) {
      const std::vector<double> sums = lg::distributed::all_reduce(
          {s.loss_sum, static_cast<double>(s.rates.word_edits), static_cast<double>(s.rates.words),
           static_cast<double>(s.rates.char_edits), static_cast<double>(s.rates.chars)},
          lg::distributed::ReduceOp::Sum);
      s.loss_sum = sums[0];
      s.rates = {.word_edits = static_cast<int64_t>(sums[1]),
                 .words = static_cast<int64_t>(sums[2]),
                 .char_edits = static_cast<int64_t>(sums[3]),
                 .chars = static_cast<int64_t>(sums[4])};
    }
    return {s.loss_sum / static_cast<double>(corpus_.val.size()), s.rates.wer(), s.rates.cer()};
  }
  std::string describe(const std::vector<double>& e) const override {
    char text[96];
    std::snprintf(text, sizeof text, "validation loss %.4f, WER %.2f%%, CER %.2f%%", e.at(0),
                  100 * e.at(1), 100 * e.at(2));
    return text;
  }
  lg::Metadata checkpoint_metadata() const override { return metadata_; }

 private:
  SpeechModel& model_;
  const Corpus& corpus_;
  const SpeechConfig& config_;
  int64_t steps_;
  lg::Device device_;
  lg::Metadata metadata_;
  LogMel mel_;
  const std::vector<Utterance> val_;  // this rank's part of the validation utterances
  std::optional<examples::DataLoader<SpeechBatch>> loader_;
};

// The checkpoint's config: the saved flags and the corpus's hash.
lg::Metadata run_metadata(SpeechConfig& config, const std::string& hash) {
  lg::Metadata m = examples::save_flags(config.saved_flags());
  m["speech.data"] = config.data;
  m["speech.data_hash"] = hash;
  return m;
}

void check_resume_data(const lg::Metadata& m, const SpeechConfig& config, const std::string& hash) {
  auto it = m.find("speech.data_hash");
  if (it == m.end())
    throw std::runtime_error("the checkpoint has no config entry \"speech.data_hash\"");
  if (it->second != hash) {
    auto from = m.find("speech.data");
    throw examples::InputError("--resume: the training utterances of --data " + config.data +
                               " (" + hash + ") are not the ones the checkpoint trained on (" +
                               (from != m.end() ? from->second + ", " : "") + it->second + ")");
  }
}

}  // namespace

int prepare_only(const SpeechConfig& config) {
  load_corpus(config);
  return 0;
}

int train(SpeechConfig config) {
  const lg::Device device = examples::setup_runtime(config.threads, config.device);
  // The folder (and with --resume the checkpoint's flags) first: the flags shape the data.
  examples::LoopSettings settings = loop_settings(config, 1);
  examples::RunFolder folder(settings);
  if (folder.resumed())
    examples::restore_flags(config.saved_flags(), folder.resumed()->config, config.given);
  // The ranks take the corpus folder's lock in turn: rank 0 prepares the
  // corpus where needed, the others then reuse it.
  Corpus corpus;
  examples::in_rank_order([&] { corpus = load_corpus(config); });
  const std::string hash = training_data_hash(corpus.train);
  if (folder.resumed()) check_resume_data(folder.resumed()->config, config, hash);
  const int64_t steps_per_epoch = static_cast<int64_t>(corpus.train.size()) / global_batch(config);
  if (steps_per_epoch < 1)
    throw examples::InputError(
        "--batch " + std::to_string(config.batch) +
        (examples::world_size() > 1 ? " on " + std::to_string(examples::world_size()) +
                                          " ranks (" + std::to_string(global_batch(config)) +
                                          " utterances a step)"
                                    : std::string()) +
        " is more than the " + std::to_string(corpus.train.size()) + " training utterances");
  settings = loop_settings(config, steps_per_epoch);

  lg::manual_seed(config.seed);
  const std::unique_ptr<SpeechModel> owned = make_model(config);
  SpeechModel& model = *owned;
  model.to(device);
  auto optimizer = examples::make_adamw(model, settings);
  std::printf(
      "model: Conformer-CTC, %s attention, d-model %d, %d layers, %d heads, ffn %d, conv kernel %d: "
      "%lld parameters; batch %d%s, %d epochs (%lld steps), lr %g, %s, %d threads%s\n",
      config.attention.c_str(), config.d_model, config.layers, config.heads, config.ffn_dim,
      config.conv_kernel, static_cast<long long>(model.num_parameters()), config.batch,
      examples::per_rank_words().c_str(), config.epochs, static_cast<long long>(settings.steps),
      config.lr, config.device.c_str(), lg::get_num_threads(), examples::ranks_words().c_str());
  SpeechTask task(model, corpus, config, settings.steps, device, run_metadata(config, hash));
  const examples::LoopResult result = examples::run_training(settings, folder, task, *optimizer);
  if (!result.finished) return result.exit_code;
  // The test report is rank 0's (the others do not touch the run folder).
  if (examples::rank() != 0) return 0;
  report_test(model, corpus.test, LogMel{}, config.batch, device, config.out,
              {.attention = config.attention,
               .steps = result.step,
               .train_seconds = result.train_seconds,
               .val_wer = result.evaluation.size() > 1 ? result.evaluation[1] : NAN,
               .beam = config.beam,
               .worst = config.worst});
  return 0;
}

}  // namespace speech
