// --eval-only and --predict: a trained checkpoint, no training.
#include <lasergrad/nn/checkpoint.h>

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "common/training_loop.h"
#include "image_file.h"
#include "modes.h"
#include "session.h"
#include "test_report.h"

namespace vit {
namespace {

struct Trained {
  ModelData data;
  std::unique_ptr<Vit> model;
  int64_t step = 0;
};

// The checkpoint's model, with the flags it records (others given are refused).
Trained load_trained(VitConfig& config, const char* mode, lg::Device device) {
  const std::string path = examples::checkpoint_path(config.out).string();
  const lg::TrainingCheckpoint checkpoint = lg::load_checkpoint(path);
  examples::restore_flags(config.saved_flags(), checkpoint.config, config.given, mode);
  Trained t{.data = model_data_from_metadata(checkpoint.config),
            .model = nullptr,
            .step = checkpoint.step};
  t.model = make_model(config, t.data);
  t.model->load_state_dict(checkpoint.model);
  t.model->to(device);
  t.model->eval();
  std::printf("lg-vit: %s (%s attention, %d layers, d-model %d, step %lld)\n", path.c_str(),
              config.attention.c_str(), config.layers, config.d_model,
              static_cast<long long>(t.step));
  return t;
}

}  // namespace

int eval_only(VitConfig config) {
  const lg::Device device = setup_runtime(config);
  const examples::RunLock lock =
      examples::claim_run_folder(config.out, report_file_names(), "lg-vit");
  Trained t = load_trained(config, "--eval-only", device);
  const ImageData data = load_data(config);
  if (data.train.height != t.data.image_size ||
      data.class_names.size() != t.data.class_names.size())
    throw examples::InputError("--eval-only: the images of --data " + config.data +
                               " do not fit the checkpoint's model (image size " +
                               std::to_string(t.data.image_size) + ", " +
                               std::to_string(t.data.class_names.size()) + " classes)");
  report_test(
      *t.model, data.test, t.data, config.batch, device, config.out,
      {.attention = config.attention, .steps = t.step, .train_seconds = 0, .val_accuracy = NAN});
  return 0;
}

int predict(VitConfig config) {
  const lg::Device device = setup_runtime(config);
  Trained t = load_trained(config, "--predict", device);
  const int64_t side = t.data.image_size;
  const GrayImage image = load_model_input(config.predict, side, side, config.invert, "--predict");
  std::vector<float> pixels(image.pixels.size());
  std::transform(image.pixels.begin(), image.pixels.end(), pixels.begin(), t.data.norm);
  lg::NoGradGuard no_grad;
  const lg::Tensor input = lg::from_vector(pixels, {1, 1, side, side}).to(device);
  const std::vector<double> probs =
      lg::softmax((*t.model)(input), -1).to(lg::Device::cpu()).to(lg::kFloat64).to_vector<double>();
  std::vector<size_t> order(probs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return probs[a] > probs[b]; });
  std::printf("%s: %s (%.1f%%)", config.predict.c_str(), t.data.class_names[order[0]].c_str(),
              100 * probs[order[0]]);
  for (size_t i = 1; i < std::min<size_t>(3, order.size()); ++i)
    std::printf("; then %s (%.1f%%)", t.data.class_names[order[i]].c_str(), 100 * probs[order[i]]);
  std::printf("\n");
  return 0;
}

}  // namespace vit
