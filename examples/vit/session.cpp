#include "session.h"

#include <cstdio>
#include <stdexcept>

#include "common/data_loader.h"
#include "common/files.h"
#include "common/run_lock.h"
#include "common/training_loop.h"

namespace vit {

lg::Device setup_runtime(const VitConfig& config) {
  return examples::setup_runtime(config.threads, config.device);
}

ImageData load_data(const VitConfig& config) {
  ImageData data;
  try {
    data = load_image_data(config.data, config.val_images);
  } catch (const examples::InputError&) {
    throw;
  } catch (const std::invalid_argument& e) {  // the split's
    throw examples::InputError("--val-images " + std::to_string(config.val_images) + ": " +
                               e.what());
  } catch (const std::exception& e) {
    // A missing, truncated or corrupt file is the user's input, reported as a flag error.
    throw examples::InputError(std::string("--data: ") + e.what());
  }
  if (config.train_images > 0 && config.train_images < data.train.size()) {
    data.train.labels.resize(static_cast<size_t>(config.train_images));
    data.train.pixels.resize(static_cast<size_t>(config.train_images * data.train.image_bytes()));
  }
  std::printf("lg-vit: %s: %lld training, %lld validation, %lld test images of %lldx%lld\n",
              config.data.c_str(), static_cast<long long>(data.train.size()),
              static_cast<long long>(data.val.size()), static_cast<long long>(data.test.size()),
              static_cast<long long>(data.train.height), static_cast<long long>(data.train.width));
  return data;
}

std::string training_data_hash(const ImageSet& train) {
  std::string bytes(train.pixels.begin(), train.pixels.end());
  bytes.append(train.labels.begin(), train.labels.end());
  return examples::fnv1a64_hex(bytes);
}

ModelData model_data(const ImageData& data) {
  if (data.train.height != data.train.width)
    throw examples::InputError("lg-vit needs square images, got " +
                               std::to_string(data.train.height) + "x" +
                               std::to_string(data.train.width));
  return {.image_size = data.train.height, .class_names = data.class_names, .norm = data.norm};
}

lg::Metadata model_data_metadata(const ModelData& m) {
  std::string names;
  for (const std::string& n : m.class_names) names += (names.empty() ? "" : "\n") + n;
  char mean[32], std[32];
  std::snprintf(mean, sizeof mean, "%.9g", static_cast<double>(m.norm.mean));
  std::snprintf(std, sizeof std, "%.9g", static_cast<double>(m.norm.std));
  return {{"vit.image_size", std::to_string(m.image_size)},
          {"vit.class_names", names},
          {"vit.norm_mean", mean},
          {"vit.norm_std", std}};
}

ModelData model_data_from_metadata(const lg::Metadata& m) {
  auto get = [&](const std::string& key) -> const std::string& {
    auto it = m.find(key);
    if (it == m.end())
      throw std::runtime_error("the checkpoint has no config entry \"" + key + "\"");
    return it->second;
  };
  ModelData d;
  int image_size = 0;
  examples::SavedFlag("", "vit.image_size", image_size).set(get("vit.image_size"));
  double mean = 0, std = 1;
  examples::SavedFlag("", "vit.norm_mean", mean).set(get("vit.norm_mean"));
  examples::SavedFlag("", "vit.norm_std", std).set(get("vit.norm_std"));
  if (image_size < 1 || !(std > 0))
    throw std::runtime_error("the checkpoint's vit.image_size or vit.norm_std is not positive");
  d.image_size = image_size;
  d.norm = {.mean = static_cast<float>(mean), .std = static_cast<float>(std)};
  const std::string& names = get("vit.class_names");
  for (size_t from = 0;;) {
    const size_t end = names.find('\n', from);
    d.class_names.push_back(names.substr(from, end - from));
    if (end == std::string::npos) break;
    from = end + 1;
  }
  return d;
}

std::unique_ptr<Vit> make_model(const VitConfig& config, const ModelData& data) {
  try {
    return std::make_unique<Vit>(
        config.shape(data.image_size, static_cast<int64_t>(data.class_names.size())));
  } catch (const std::invalid_argument& e) {
    throw examples::InputError(e.what());  // e.g. a --patch that does not divide the images
  }
}

int64_t SetPredictions::correct() const {
  int64_t n = 0;
  for (size_t i = 0; i < labels.size(); ++i) n += labels[i] == predicted[i] ? 1 : 0;
  return n;
}

double SetPredictions::accuracy() const {
  return labels.empty() ? 0.0 : static_cast<double>(correct()) / static_cast<double>(labels.size());
}

SetPredictions predict_set(Vit& model, const ImageSet& set, const Normalization& norm,
                           int64_t batch, lg::Device device) {
  lg::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const examples::LoaderOptions order{.num_samples = set.size(),
                                      .batch_size = batch,
                                      .seed = 0,
                                      .shuffle = false,
                                      .drop_last = false,
                                      .start_step = 0,
                                      .stop_step = std::nullopt};
  SetPredictions out;
  for (int64_t step = 0; step < examples::steps_per_epoch(order); ++step) {
    const ImageBatch b = make_image_batch(set, norm, examples::batch_request(order, step),
                                          Augmentation{.enabled = false, .pad = 0});
    const lg::Tensor logits = model(b.images.to(device)).to(lg::Device::cpu());
    const lg::Tensor labels = b.labels;
    out.loss_sum +=
        lg::cross_entropy(logits, labels, {.reduction = lg::Reduction::Sum}).item<double>();
    const std::vector<int64_t> pred = lg::argmax(logits, -1).to_vector<int64_t>();
    const std::vector<int64_t> truth = labels.to_vector<int64_t>();
    out.predicted.insert(out.predicted.end(), pred.begin(), pred.end());
    out.labels.insert(out.labels.end(), truth.begin(), truth.end());
  }
  out.mean_loss =
      out.labels.empty() ? 0.0 : out.loss_sum / static_cast<double>(out.labels.size());
  model.train(was_training);
  return out;
}

}  // namespace vit
