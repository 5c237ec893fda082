// lg-vit's training: its part of the shared loop (examples/common/training_loop.h)
// is VitTask, batches from the prefetching loader, cross-entropy with label
// smoothing, validation loss and accuracy. Under mpirun each rank trains on
// its part of every batch of all ranks and validates on its part of the
// validation images; rank 0 alone writes the test report.
#include <lasergrad/distributed/distributed.h>

#include <cmath>
#include <cstdio>
#include <numeric>
#include <optional>
#include <stdexcept>

#include "common/data_loader.h"
#include "common/loop_settings.h"
#include "common/ranks.h"
#include "common/training_loop.h"
#include "modes.h"
#include "session.h"
#include "test_report.h"

namespace vit {
namespace {

// The images of one step on all ranks: --batch is per rank, as in PyTorch's DDP.
int64_t global_batch(const VitConfig& c) { return int64_t{c.batch} * examples::world_size(); }

examples::LoopSettings loop_settings(const VitConfig& c, int64_t steps_per_epoch) {
  examples::LoopSettings s = examples::loop_settings_from(c, steps_per_epoch);
  s.program = "lg-vit";
  s.beta1 = 0.9;
  s.beta2 = 0.999;
  s.items = "images";
  s.items_short = "img";
  s.other_files = report_file_names();
  return s;
}

class VitTask : public examples::TrainingTask {
 public:
  VitTask(Vit& model, const ImageData& data, const VitConfig& config, int64_t steps,
          lg::Device device, lg::Metadata metadata)
      : model_(model),
        data_(data),
        config_(config),
        steps_(steps),
        device_(device),
        metadata_(std::move(metadata)),
        val_(validation_part(data.val)) {}

  lg::nn::Module& model() override { return model_; }
  // The loader draws the batches of all ranks (world * --batch images, in the
  // epoch order of one process with that batch) and this rank builds its
  // part; augmentation is keyed by (seed, epoch, image), not by the rank.
  void start(int64_t first_step) override {
    examples::LoaderOptions order = examples::training_order(config_, data_.train.size(), steps_);
    order.batch_size = global_batch(config_);
    order.start_step = first_step;
    const Augmentation augment{.enabled = config_.augment, .pad = 2};
    loader_.emplace(order, [this, augment](examples::BatchRequest r) {
      r.sample_indices = examples::this_ranks_part(r.sample_indices);
      return make_image_batch(data_.train, data_.norm, r, augment);
    });
  }
  lg::Tensor loss(int64_t step) override {
    if (loader_->step() != step - 1)
      throw std::logic_error("VitTask: step " + std::to_string(step) + " after the loader's " +
                             std::to_string(loader_->step()));
    const ImageBatch b = loader_->next();
    return lg::cross_entropy(model_(b.images.to(device_)), b.labels.to(device_),
                             {.label_smoothing = config_.label_smoothing});
  }
  std::vector<std::string> eval_columns() const override { return {"val_loss", "val_acc"}; }
  // Sums of this rank's part, added up over the ranks: the loss and accuracy
  // of the whole validation set.
  std::vector<double> evaluate() override {
    std::vector<double> sums(2, 0.0);
    if (val_.size() > 0) {
      const SetPredictions p = predict_set(model_, val_, data_.norm, config_.batch, device_);
      sums = {p.loss_sum, static_cast<double>(p.correct())};
    }
    if (examples::world_size() > 1)
      sums = lg::distributed::all_reduce(std::move(sums), lg::distributed::ReduceOp::Sum);
    const auto n = static_cast<double>(data_.val.size());
    return {sums[0] / n, sums[1] / n};
  }
  std::string describe(const std::vector<double>& e) const override {
    char text[80];
    std::snprintf(text, sizeof text, "validation loss %.4f, accuracy %.2f%%", e.at(0),
                  100 * e.at(1));
    return text;
  }
  lg::Metadata checkpoint_metadata() const override { return metadata_; }

 private:
  Vit& model_;
  const ImageData& data_;
  const VitConfig& config_;
  int64_t steps_;
  lg::Device device_;
  lg::Metadata metadata_;
  const ImageSet val_;  // this rank's part of the validation images
  std::optional<examples::DataLoader<ImageBatch>> loader_;

  static ImageSet validation_part(const ImageSet& val) {
    std::vector<int64_t> all(static_cast<size_t>(val.size()));
    std::iota(all.begin(), all.end(), int64_t{0});
    return subset(val, examples::this_ranks_part(all));
  }
};

// The checkpoint's config: the saved flags, the data's hash and what a model
// needs to classify (image size, class names, normalisation).
lg::Metadata run_metadata(VitConfig& config, const ImageData& data, const std::string& hash) {
  lg::Metadata m = examples::save_flags(config.saved_flags());
  m["vit.data"] = config.data;
  m["vit.data_hash"] = hash;
  for (auto& [key, value] : model_data_metadata(model_data(data))) m[key] = value;
  return m;
}

void check_resume_data(const lg::Metadata& m, const VitConfig& config, const std::string& hash) {
  auto it = m.find("vit.data_hash");
  if (it == m.end())
    throw std::runtime_error("the checkpoint has no config entry \"vit.data_hash\"");
  if (it->second != hash) {
    auto from = m.find("vit.data");
    throw examples::InputError("--resume: the training images of --data " + config.data + " (" +
                               hash + ") are not the ones the checkpoint trained on (" +
                               (from != m.end() ? from->second + ", " : "") + it->second + ")");
  }
}

}  // namespace

int train(VitConfig config) {
  const lg::Device device = setup_runtime(config);
  // The folder (and with --resume the checkpoint's flags) first: the flags shape the data.
  examples::LoopSettings settings = loop_settings(config, 1);
  examples::RunFolder folder(settings);
  if (folder.resumed())
    examples::restore_flags(config.saved_flags(), folder.resumed()->config, config.given);
  const ImageData data = load_data(config);
  const std::string hash = training_data_hash(data.train);
  if (folder.resumed()) check_resume_data(folder.resumed()->config, config, hash);
  const int64_t steps_per_epoch = data.train.size() / global_batch(config);
  if (steps_per_epoch < 1)
    throw examples::InputError(
        "--batch " + std::to_string(config.batch) +
        (examples::world_size() > 1 ? " on " + std::to_string(examples::world_size()) + " ranks (" +
                                          std::to_string(global_batch(config)) + " images a step)"
                                    : std::string()) +
        " is more than the " + std::to_string(data.train.size()) + " training images");
  settings = loop_settings(config, steps_per_epoch);

  lg::manual_seed(config.seed);
  const ModelData md = model_data(data);
  const std::unique_ptr<Vit> owned = make_model(config, md);
  Vit& model = *owned;
  model.to(device);
  const WeightDecaySplit split = split_for_weight_decay(model);
  auto optimizer = examples::make_adamw(split.decay, split.no_decay, settings);
  std::printf(
      "model: ViT, %s attention, %s pool, patch %d, d-model %d, %d layers, %d heads, MLP ratio %d: "
      "%lld parameters; batch %d%s, %d epochs (%lld steps), lr %g, %s, %d threads%s\n",
      config.attention.c_str(), config.pool.c_str(), config.patch, config.d_model, config.layers,
      config.heads, config.mlp_ratio, static_cast<long long>(model.num_parameters()), config.batch,
      examples::per_rank_words().c_str(), config.epochs, static_cast<long long>(settings.steps),
      config.lr, config.device.c_str(), lg::get_num_threads(), examples::ranks_words().c_str());
  VitTask task(model, data, config, settings.steps, device, run_metadata(config, data, hash));
  const examples::LoopResult result = examples::run_training(settings, folder, task, *optimizer);
  if (!result.finished) return result.exit_code;
  // The test report is rank 0's (the others do not touch the run folder).
  if (examples::rank() != 0) return 0;
  report_test(model, data.test, md, config.batch, device, config.out,
              {.attention = config.attention,
               .steps = result.step,
               .train_seconds = result.train_seconds,
               .val_accuracy = result.evaluation.size() > 1 ? result.evaluation[1] : NAN});
  return 0;
}

}  // namespace vit
