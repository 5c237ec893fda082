#include "image_data.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

#include "idx.h"

namespace vit {
namespace {

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// dir/name, else dir/name.gz; empty when neither exists.
std::filesystem::path find_file(const std::filesystem::path& dir, const std::string& name) {
  for (const std::filesystem::path& p : {dir / name, dir / (name + ".gz")}) {
    std::error_code ec;
    if (std::filesystem::exists(p, ec)) return p;
  }
  return {};
}

// The images of an [N,H,W] file and the labels of an [N] file, checked together.
ImageSet read_image_set(const std::filesystem::path& images_path,
                        const std::filesystem::path& labels_path) {
  IdxArray images = read_idx(images_path);
  IdxArray labels = read_idx(labels_path);
  if (images.dims.size() != 3)
    throw std::runtime_error(images_path.string() + ": images must have 3 dimensions [N,H,W], " +
                             "this file has " + std::to_string(images.dims.size()));
  if (labels.dims.size() != 1)
    throw std::runtime_error(labels_path.string() + ": labels must have 1 dimension [N], " +
                             "this file has " + std::to_string(labels.dims.size()));
  if (labels.dims[0] != images.dims[0])
    throw std::runtime_error(labels_path.string() + ": " + std::to_string(labels.dims[0]) +
                             " labels for the " + std::to_string(images.dims[0]) + " images of " +
                             images_path.string());
  for (size_t i = 0; i < labels.data.size(); ++i)
    if (labels.data[i] >= kNumClasses)
      throw std::runtime_error(labels_path.string() + ": label " + std::to_string(i) + " is " +
                               std::to_string(labels.data[i]) + ", outside 0.." +
                               std::to_string(kNumClasses - 1));
  ImageSet set;
  set.height = images.dims[1];
  set.width = images.dims[2];
  set.pixels = std::move(images.data);
  set.labels = std::move(labels.data);
  return set;
}

}  // namespace

ImageSet subset(const ImageSet& all, const std::vector<int64_t>& indices) {
  ImageSet s;
  s.height = all.height;
  s.width = all.width;
  s.pixels.reserve(indices.size() * static_cast<size_t>(all.image_bytes()));
  for (int64_t i : indices) {
    const auto image = all.image(i);
    s.pixels.insert(s.pixels.end(), image.begin(), image.end());
    s.labels.push_back(all.labels[static_cast<size_t>(i)]);
  }
  return s;
}

std::vector<std::string> class_names(const std::filesystem::path& dir) {
  std::filesystem::path last =
      dir.filename().empty() ? dir.parent_path().filename() : dir.filename();
  const std::string name = lowercase(last.string());
  const bool digits =
      name.find("mnist") != std::string::npos && name.find("fashion") == std::string::npos;
  std::vector<std::string> names;
  for (int64_t c = 0; c < kNumClasses; ++c)
    names.push_back(digits ? std::to_string(c)
                           : std::string(kFashionMnistClasses[static_cast<size_t>(c)]));
  return names;
}

MnistFiles load_mnist_dir(const std::filesystem::path& dir) {
  const std::array<std::string, 4> names = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
  std::array<std::filesystem::path, 4> paths;
  std::string missing;
  for (size_t i = 0; i < names.size(); ++i) {
    paths[i] = find_file(dir, names[i]);
    if (paths[i].empty()) missing += (missing.empty() ? "" : ", ") + names[i] + "[.gz]";
  }
  if (!missing.empty()) {
    std::error_code ec;
    const std::string where = std::filesystem::is_directory(dir, ec)
                                  ? "missing " + missing
                                  : "not a directory (looked for " + missing + " in it)";
    throw std::runtime_error(dir.string() + ": " + where +
                             " (Fashion-MNIST: apt-get install dataset-fashion-mnist, or "
                             "scripts/install-deps.sh --examples, puts them in " +
                             kFashionMnistDir + ")");
  }
  MnistFiles files{read_image_set(paths[0], paths[1]), read_image_set(paths[2], paths[3])};
  if (files.test.height != files.train.height || files.test.width != files.train.width)
    throw std::runtime_error(
        paths[2].string() + ": images of " + std::to_string(files.test.height) + "x" +
        std::to_string(files.test.width) + " pixels, the training images (" + paths[0].string() +
        ") are " + std::to_string(files.train.height) + "x" + std::to_string(files.train.width));
  return files;
}

Split split_validation(const ImageSet& all, int64_t val_size) {
  if (val_size < 0 || val_size >= all.size())
    throw std::invalid_argument("validation size " + std::to_string(val_size) + " is not in 0.." +
                                std::to_string(all.size() - 1) + " (the training set has " +
                                std::to_string(all.size()) + " images and keeps at least one)");
  const std::vector<int64_t> order = examples::epoch_order(all.size(), kSplitSeed, 0, true);
  std::vector<int64_t> val(order.begin(), order.begin() + val_size);
  std::vector<int64_t> train(order.begin() + val_size, order.end());
  std::sort(val.begin(), val.end());
  std::sort(train.begin(), train.end());
  return {subset(all, train), subset(all, val)};
}

Normalization pixel_statistics(const ImageSet& set) {
  double sum = 0, sum_sq = 0;
  for (uint8_t p : set.pixels) {
    const double x = p / 255.0;
    sum += x;
    sum_sq += x * x;
  }
  const auto n = static_cast<double>(set.pixels.size());
  const double mean = sum / n;
  const double var = std::max(sum_sq / n - mean * mean, 0.0);
  // A blank set (std 0) keeps std 1 rather than dividing by zero.
  const double std = var > 0 ? std::sqrt(var) : 1.0;
  return {static_cast<float>(mean), static_cast<float>(std)};
}

ImageData load_image_data(const std::filesystem::path& dir, int64_t val_size) {
  MnistFiles files = load_mnist_dir(dir);
  Split split = split_validation(files.train, val_size);
  ImageData data;
  data.norm = pixel_statistics(split.train);
  data.train = std::move(split.train);
  data.val = std::move(split.val);
  data.test = std::move(files.test);
  data.class_names = class_names(dir);
  return data;
}

AugmentDraw draw_augmentation(uint64_t seed, int64_t epoch, int64_t sample, int64_t pad) {
  if (pad < 0)
    throw std::invalid_argument("augmentation: pad " + std::to_string(pad) + " is negative");
  // "aug": keeps these draws apart from the epoch orders, which mix (seed, epoch) alone.
  const uint64_t key = examples::mix_key(
      {seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(sample), 0x617567});
  const auto span = static_cast<uint64_t>(2 * pad + 1);
  AugmentDraw d;
  d.dy = static_cast<int64_t>(examples::below(examples::splitmix64(key + 1), span)) - pad;
  d.dx = static_cast<int64_t>(examples::below(examples::splitmix64(key + 2), span)) - pad;
  d.flip = (examples::splitmix64(key + 3) >> 63) != 0;
  return d;
}

void apply_augmentation(std::span<const uint8_t> src, int64_t height, int64_t width,
                        const AugmentDraw& draw, std::span<uint8_t> dst) {
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x) {
      const int64_t sy = y + draw.dy, sx = x + draw.dx;
      const bool inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
      const int64_t out_x = draw.flip ? width - 1 - x : x;
      dst[static_cast<size_t>(y * width + out_x)] =
          inside ? src[static_cast<size_t>(sy * width + sx)] : uint8_t{0};
    }
}

ImageBatch make_image_batch(const ImageSet& set, const Normalization& norm,
                            const examples::BatchRequest& request, const Augmentation& augment) {
  const auto batch = static_cast<int64_t>(request.sample_indices.size());
  const int64_t bytes = set.image_bytes();
  std::vector<float> images(static_cast<size_t>(batch * bytes));
  std::vector<int64_t> labels(static_cast<size_t>(batch));
  std::vector<uint8_t> augmented(static_cast<size_t>(bytes));
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t i = request.sample_indices[static_cast<size_t>(b)];
    if (i < 0 || i >= set.size())
      throw std::out_of_range("image batch: sample " + std::to_string(i) + " is outside the " +
                              std::to_string(set.size()) + " images of the set");
    std::span<const uint8_t> image = set.image(i);
    if (augment.enabled) {
      apply_augmentation(image, set.height, set.width,
                         draw_augmentation(request.seed, request.epoch, i, augment.pad), augmented);
      image = augmented;
    }
    float* out = images.data() + b * bytes;
    for (int64_t p = 0; p < bytes; ++p) out[p] = norm(image[static_cast<size_t>(p)]);
    labels[static_cast<size_t>(b)] = set.labels[static_cast<size_t>(i)];
  }
  return {lg::from_vector(images, lg::Shape{batch, 1, set.height, set.width}),
          lg::from_vector(labels, lg::Shape{batch})};
}

}  // namespace vit
