// What lg-vit's modes (train, --eval-only, --predict, --bench) share: threads
// and device, the data as the flags ask for it, what a checkpoint records
// besides the flags (image size, class names, normalisation, a hash of the
// training images), and predictions over a whole image set.
#pragma once
#include <lasergrad/lasergrad.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "image_data.h"
#include "vit_config.h"
#include "vit_model.h"

namespace vit {

// Sets the CPU thread count (0: every core) and returns the device to run on.
lg::Device setup_runtime(const VitConfig& config);

// The data of --data with --val-images held out and --train-images applied,
// with a line saying what was loaded.
ImageData load_data(const VitConfig& config);

// "fnv1a64:..." of the training images and labels: --resume checks that the
// data is the one the checkpoint trained on.
std::string training_data_hash(const ImageSet& train);

// What a model needs besides its flags to classify an image.
struct ModelData {
  int64_t image_size = 28;
  std::vector<std::string> class_names;
  Normalization norm;
};
ModelData model_data(const ImageData& data);
lg::Metadata model_data_metadata(const ModelData& m);
// Throws std::runtime_error naming a missing or malformed entry.
ModelData model_data_from_metadata(const lg::Metadata& m);

// The model of config's flags for data's images and classes; a shape the
// flags make impossible is an InputError.
std::unique_ptr<Vit> make_model(const VitConfig& config, const ModelData& data);

struct SetPredictions {
  std::vector<int64_t> labels, predicted;
  double loss_sum = 0;   // cross-entropy without label smoothing, summed over the images
  double mean_loss = 0;  // ... and its mean
  int64_t correct() const;
  double accuracy() const;
};
// The model's class for every image of set, in order, in eval mode without
// gradients, batch images at a time.
SetPredictions predict_set(Vit& model, const ImageSet& set, const Normalization& norm,
                           int64_t batch, lg::Device device);

}  // namespace vit
