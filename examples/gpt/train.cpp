#include <lasergrad/distributed/distributed.h>

#include <cstdio>
#include <optional>
#include <stdexcept>

#include "common/files.h"
#include "common/ranks.h"
#include "common/training_loop.h"
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

// lg-gpt's part of the shared loop: next-character cross-entropy on batches
// drawn by step, mean validation loss over fixed batches.
class GptTask : public examples::TrainingTask {
 public:
  GptTask(Gpt& model, const TextDataset& data, const TrainConfig& config, lg::Device device,
          lg::Metadata metadata)
      : model_(model),
        data_(data),
        config_(config),
        device_(device),
        metadata_(std::move(metadata)) {}

  lg::nn::Module& model() override { return model_; }
  lg::Tensor loss(int64_t step) override {
    // This rank's rows of the batch of all ranks.
    const Batch b = data_.train_batch(config_.batch, config_.seed, step - 1,
                                      examples::rank() * int64_t{config_.batch});
    return lg::cross_entropy(model_(b.inputs.to(device_)), b.targets.to(device_));
  }
  std::vector<std::string> eval_columns() const override { return {"val_loss"}; }
  // With several ranks, each takes its rows of the batches of all ranks and the
  // mean of the ranks' losses is the loss of the whole batches.
  std::vector<double> evaluate() override {
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
  std::string describe(const std::vector<double>& evaluation) const override {
    char text[48];
    std::snprintf(text, sizeof text, "validation loss %.4f", evaluation.at(0));
    return text;
  }
  lg::Metadata checkpoint_metadata() const override { return metadata_; }

 private:
  Gpt& model_;
  const TextDataset& data_;
  const TrainConfig& config_;
  lg::Device device_;
  lg::Metadata metadata_;
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
  prompt_ids(data.vocab(), config.prompt);  // the sample after training needs it
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
  std::printf(
      "model: %s attention, %d layers, d-model %d, %d heads, seq-len %d: %lld parameters; "
      "batch %d%s, %d steps, lr %g, %s, %d threads%s\n",
      config.attention.c_str(), config.layers, config.d_model, config.heads, config.seq_len,
      static_cast<long long>(model.num_parameters()), config.batch,
      examples::per_rank_words().c_str(), config.steps, config.lr, config.device.c_str(),
      lg::get_num_threads(), examples::ranks_words().c_str());
  GptTask task(model, data, config, device,
               checkpoint_metadata(config, data.vocab(), text.source, text_hash, text_chars));
  const examples::LoopResult result = examples::run_training(settings, folder, task, *optimizer);
  if (result.finished) print_sample(model, data.vocab(), config, device, kSampleAfterTraining);
  return result.exit_code;
}

}  // namespace gpt
