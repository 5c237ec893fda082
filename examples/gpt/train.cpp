#include <lasergrad/distributed/distributed.h>

#include <cstdio>
#include <optional>
#include <stdexcept>

#include "common/files.h"
#include "common/ranks.h"
#include "common/training_loop.h"
#include "common/utf8.h"
#include "masking.h"
#include "modes.h"
#include "session.h"
#include "text_data.h"

namespace gpt {
namespace {

Text load_text(const TrainConfig& config) {
  return config.data.empty() ? king_james_bible()
                             : read_text_file(config.data, config.max_data_bytes);
}

const std::string& require(const lg::Metadata& m, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) throw std::runtime_error("the checkpoint has no config entry \"" + key + "\"");
  return it->second;
}

// lg-gpt's part of the shared loop: next-character cross-entropy (clm) or
// cross-entropy on BERT-masked positions (mlm) on batches drawn by step; the
// validation loss over fixed batches, and for mlm the MLM error (the share of
// masked positions predicted wrongly) on fixed masks.
class GptTask : public examples::TrainingTask {
 public:
  GptTask(Gpt& model, const TextDataset& data, const TrainConfig& config, lg::Device device,
          lg::Metadata metadata)
      : model_(model),
        data_(data),
        config_(config),
        device_(device),
        metadata_(std::move(metadata)),
        mlm_(config.objective == "mlm"),
        masking_{.probability = config.mask_prob, .mask_id = data.vocab().size()} {}

  lg::nn::Module& model() override { return model_; }
  lg::Tensor loss(int64_t step) override {
    // This rank's rows of the batch of all ranks.
    const int64_t first_row = examples::rank() * int64_t{config_.batch};
    const Batch b = data_.train_batch(config_.batch, config_.seed, step - 1, first_row);
    if (!mlm_) return lg::cross_entropy(model_(b.inputs.to(device_)), b.targets.to(device_));
    const MaskedBatch m =
        mask_tokens(b.inputs, masking_, train_mask_stream(config_.seed, step - 1), first_row);
    return lg::cross_entropy(model_(m.inputs.to(device_)), m.targets.to(device_));
  }
  std::vector<std::string> eval_columns() const override {
    if (mlm_) return {"val_loss", "val_mlm_error"};
    return {"val_loss"};
  }
  // With several ranks, each takes its rows of the batches of all ranks and the
  // mean of the ranks' losses is the loss of the whole batches.
  std::vector<double> evaluate() override { return mlm_ ? evaluate_mlm() : evaluate_clm(); }
  std::string describe(const std::vector<double>& evaluation) const override {
    char text[80];
    if (mlm_)
      std::snprintf(text, sizeof text, "validation loss %.4f, MLM error %.4f", evaluation.at(0),
                    evaluation.at(1));
    else
      std::snprintf(text, sizeof text, "validation loss %.4f", evaluation.at(0));
    return text;
  }
  lg::Metadata checkpoint_metadata() const override { return metadata_; }

  // The masked validation batches (all ranks' rows) scored by always
  // predicting the commonest training character.
  MaskedCounts unigram_baseline(int64_t id) const {
    MaskedCounts total;
    const int64_t rows = int64_t{config_.batch} * examples::world_size();
    for (int i = 0; i < config_.eval_batches; ++i) {
      const MaskedCounts c = count_constant_errors(validation_masks(i, 0, rows).targets, id);
      total.chosen += c.chosen;
      total.wrong += c.wrong;
    }
    return total;
  }

 private:
  MaskedBatch validation_masks(int i, int64_t first_row, int64_t rows) const {
    const int64_t world = examples::world_size(), batch = config_.batch;
    const Batch b = data_.val_batch(batch * world, i, config_.eval_batches, first_row, rows);
    return mask_tokens(b.inputs, masking_, validation_mask_stream(i), first_row);
  }

  std::vector<double> evaluate_clm() {
    const int64_t world = examples::world_size(), batch = config_.batch;
    double total = 0;
    for (int i = 0; i < config_.eval_batches; ++i) {
      const Batch b = data_.val_batch(batch * world, i, config_.eval_batches,
                                      examples::rank() * batch, batch);
      total +=
          lg::cross_entropy(model_(b.inputs.to(device_)), b.targets.to(device_)).item<double>();
    }
    if (world > 1) total = lg::distributed::all_reduce({total}, lg::distributed::ReduceOp::Mean)[0];
    return {total / config_.eval_batches};
  }

  // The loss and the error over every masked position of every batch (summed
  // over ranks before dividing: ranks mask different numbers of positions).
  std::vector<double> evaluate_mlm() {
    const int64_t batch = config_.batch;
    std::vector<double> sums(3, 0.0);  // loss, positions, wrong
    for (int i = 0; i < config_.eval_batches; ++i) {
      const MaskedBatch m = validation_masks(i, examples::rank() * batch, batch);
      const lg::Tensor logits = model_(m.inputs.to(device_));
      const lg::Tensor targets = m.targets.to(device_);
      sums[0] += lg::cross_entropy(logits, targets, {.reduction = lg::Reduction::Sum}).item<double>();
      const MaskedCounts c = count_mlm_errors(logits, targets);
      sums[1] += static_cast<double>(c.chosen);
      sums[2] += static_cast<double>(c.wrong);
    }
    if (examples::world_size() > 1)
      sums = lg::distributed::all_reduce(std::move(sums), lg::distributed::ReduceOp::Sum);
    return {sums[0] / sums[1], sums[2] / sums[1]};
  }

  Gpt& model_;
  const TextDataset& data_;
  const TrainConfig& config_;
  lg::Device device_;
  lg::Metadata metadata_;
  bool mlm_;
  MaskingOptions masking_;
};

}  // namespace

int train(TrainConfig config) {
  const lg::Device device = setup_runtime(config);
  examples::LoopSettings settings = loop_settings(config);
  examples::RunFolder folder(settings);
  std::optional<examples::CharVocab> vocab;
  if (folder.resumed()) {
    config.apply_resume_metadata(folder.resumed()->config);
    settings = loop_settings(config);
    vocab = examples::CharVocab::from_string(require(folder.resumed()->config, "gpt.vocab"));
  }
  const Text text = load_text(config);
  const TextDataset data(text.utf8, config.seq_len, std::move(vocab));
  const bool mlm = config.objective == "mlm";
  if (!mlm) prompt_ids(data.vocab(), config.prompt);  // the sample after training needs it
  const auto text_chars =
      static_cast<int64_t>(data.train_tokens().size() + data.val_tokens().size());
  const std::string text_hash = examples::fnv1a64_hex(text.utf8);
  if (folder.resumed())
    check_resume_text(folder.resumed()->config, text.source, text_hash, text_chars);

  lg::manual_seed(config.seed);
  Gpt model(model_shape(config, data.vocab().size()));
  model.to(device);
  auto optimizer = examples::make_adamw(model, settings);
  std::printf("lg-gpt: %s, %lld characters (vocabulary %lld; %lld validation characters unknown)\n",
              text.source.c_str(), static_cast<long long>(text_chars),
              static_cast<long long>(data.vocab().size()),
              static_cast<long long>(data.val_unknown()));
  if (mlm)
    std::printf("objective: masked characters (BERT): %.0f%% of positions, of those 80%% [MASK], "
                "10%% a random character, 10%% unchanged; bidirectional attention with ALiBi\n",
                100 * config.mask_prob);
  std::printf(
      "model: %s attention, %d layers, d-model %d, %d heads, seq-len %d: %lld parameters; "
      "batch %d%s, %d steps, lr %g, %s, %d threads%s\n",
      config.attention.c_str(), config.layers, config.d_model, config.heads, config.seq_len,
      static_cast<long long>(model.num_parameters()), config.batch,
      examples::per_rank_words().c_str(), config.steps, config.lr, config.device.c_str(),
      lg::get_num_threads(), examples::ranks_words().c_str());
  GptTask task(model, data, config, device,
               checkpoint_metadata(config, data.vocab(), text.source, text_hash, text_chars));
  std::optional<MaskedCounts> baseline;
  int64_t commonest = 0;
  if (mlm) {
    commonest = commonest_token(data.train_tokens());
    baseline = task.unigram_baseline(commonest);
    std::printf("unigram baseline: always predicting %s gives MLM error %.4f on the validation masks\n",
                examples::code_point_name(data.vocab().character(commonest)).c_str(),
                static_cast<double>(baseline->wrong) / static_cast<double>(baseline->chosen));
  }
  const examples::LoopResult result = examples::run_training(settings, folder, task, *optimizer);
  if (result.finished && !mlm)
    print_sample(model, data.vocab(), config, device, kSampleAfterTraining);
  if (result.finished && mlm)
    std::printf("MLM error %.4f against the unigram baseline's %.4f\n", result.evaluation.at(1),
                static_cast<double>(baseline->wrong) / static_cast<double>(baseline->chosen));
  return result.exit_code;
}

}  // namespace gpt
