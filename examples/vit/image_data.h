// The image data of lg-vit: an MNIST-like data set (Fashion-MNIST from Debian's
// dataset-fashion-mnist by default) read from its four IDX files, a fixed
// validation split, normalisation, reproducible augmentation (random crop of
// the zero-padded image, horizontal flip), and the batches the data loader
// builds on its worker thread.
#pragma once
#include <lasergrad/lasergrad.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/data_loader.h"

namespace vit {

// Where Debian's dataset-fashion-mnist puts the (gzipped) files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
inline constexpr int64_t kNumClasses = 10;
inline constexpr int64_t kValidationSize = 5000;  // held out of the 60000 training images

inline constexpr std::array<std::string_view, kNumClasses> kFashionMnistClasses = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

// Fashion-MNIST's class names, or "0".."9" when the directory's own name (its
// last component) contains "mnist" but not "fashion", case-insensitively:
// the usual names of the two data sets' folders.
std::vector<std::string> class_names(const std::filesystem::path& dir);

// Grey-scale images with labels in 0..9.
struct ImageSet {
  int64_t height = 0, width = 0;
  std::vector<uint8_t> pixels;  // [size(), height, width], row-major
  std::vector<uint8_t> labels;  // [size()]

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t image_bytes() const { return height * width; }
  std::span<const uint8_t> image(int64_t i) const {
    return {pixels.data() + i * image_bytes(), static_cast<size_t>(image_bytes())};
  }
};

struct MnistFiles {
  ImageSet train;  // train-images-idx3-ubyte, train-labels-idx1-ubyte
  ImageSet test;   // t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte
};

// Reads the four files from dir, each plain or with .gz (the plain one first).
// Checks: images [N,H,W], labels [N] with the same N, labels in 0..9, train and
// test images of the same H x W. Throws std::runtime_error naming the file (or
// the directory and every name looked for when files are missing).
MnistFiles load_mnist_dir(const std::filesystem::path& dir);

// The images and labels of the given indices (into all), in that order.
ImageSet subset(const ImageSet& all, const std::vector<int64_t>& indices);

// The split of the training images: `val_size` of them, chosen by a
// permutation from a fixed seed (kSplitSeed; so every run, resumed or not,
// validates on the same images), for validation and the rest for training,
// each kept in the files' order. Throws std::invalid_argument unless
// 0 <= val_size < all.size().
inline constexpr uint64_t kSplitSeed = 20240611;
struct Split {
  ImageSet train, val;
};
Split split_validation(const ImageSet& all, int64_t val_size);

// x -> (x / 255 - mean) / std, with the mean and standard deviation of the
// pixels (as x / 255) of a set: lg-vit computes them on its training split
// (Fashion-MNIST's: about 0.286 and 0.353).
struct Normalization {
  float mean = 0.0f;
  float std = 1.0f;
  float operator()(uint8_t x) const { return (static_cast<float>(x) / 255.0f - mean) / std; }
};
Normalization pixel_statistics(const ImageSet& set);

// Everything lg-vit trains and evaluates on.
struct ImageData {
  ImageSet train, val, test;
  Normalization norm;  // the training split's
  std::vector<std::string> class_names;
};
ImageData load_image_data(const std::filesystem::path& dir, int64_t val_size = kValidationSize);

// Training augmentation: a random crop of the image padded by `pad` zeros on
// each side (a shift of -pad..pad pixels in each direction), then a horizontal
// flip with probability 1/2.
struct Augmentation {
  bool enabled = true;
  int64_t pad = 2;
};

// What augmentation does to one image: a function of (seed, epoch, sample)
// only, so the loader's thread gives what a serial run would.
struct AugmentDraw {
  int64_t dy = 0, dx = 0;  // output pixel (y, x) comes from input (y + dy, x + dx), or is 0
  bool flip = false;       // then x -> width - 1 - x
};
AugmentDraw draw_augmentation(uint64_t seed, int64_t epoch, int64_t sample, int64_t pad);
// dst (height x width bytes) = src transformed by draw.
void apply_augmentation(std::span<const uint8_t> src, int64_t height, int64_t width,
                        const AugmentDraw& draw, std::span<uint8_t> dst);

struct ImageBatch {
  lg::Tensor images;  // float32 [B, 1, H, W], normalised
  lg::Tensor labels;  // int64 [B]
};

// The batch of request.sample_indices (indices into set), augmented when
// augment.enabled with draws keyed by (request.seed, request.epoch, sample).
// The loader's make: [&](const examples::BatchRequest& r) {
//   return vit::make_image_batch(data.train, data.norm, r, augmentation); }.
// Throws std::out_of_range for an index outside the set.
ImageBatch make_image_batch(const ImageSet& set, const Normalization& norm,
                            const examples::BatchRequest& request, const Augmentation& augment);

}  // namespace vit
