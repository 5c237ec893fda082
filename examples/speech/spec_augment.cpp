#include "spec_augment.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "common/data_loader.h"

namespace speech {

namespace {

void check(const SpecAugmentOptions& o, int64_t frames, int mels) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("spec augment: " + what); };
  if (frames < 0) fail(std::to_string(frames) + " frames");
  if (mels <= 0) fail(std::to_string(mels) + " mel channels: need at least one");
  if (o.freq_masks < 0 || o.time_masks < 0)
    fail("mask counts " + std::to_string(o.freq_masks) + " (frequency) and " +
         std::to_string(o.time_masks) + " (time) must not be negative");
  if (o.freq_width < 0 || o.max_time_width < 0)
    fail("mask widths " + std::to_string(o.freq_width) + " (frequency) and " +
         std::to_string(o.max_time_width) + " (time) must not be negative");
  if (!(o.time_width_fraction >= 0 && o.time_width_fraction <= 1))
    fail("time width fraction " + std::to_string(o.time_width_fraction) + " is not within [0, 1]");
}

// A mask on an axis of `size`: width uniform in 0 .. min(max_width, size),
// start uniform among the positions where it fits.
Mask draw(uint64_t stream, uint64_t index, int64_t max_width, int64_t size) {
  const int64_t limit = std::min(max_width, size);
  Mask m;
  m.width = static_cast<int64_t>(
      examples::below(examples::splitmix64(stream + 2 * index), static_cast<uint64_t>(limit + 1)));
  m.start = static_cast<int64_t>(examples::below(examples::splitmix64(stream + 2 * index + 1),
                                                 static_cast<uint64_t>(size - m.width + 1)));
  return m;
}

}  // namespace

SpecAugmentMasks spec_augment_masks(int64_t frames, int mels, uint64_t key,
                                    const SpecAugmentOptions& o) {
  check(o, frames, mels);
  // Separate streams, so that changing one axis's options leaves the other's masks alone.
  const uint64_t freq_stream = examples::mix_key({key, 1});
  const uint64_t time_stream = examples::mix_key({key, 2});
  const auto time_limit = std::min(
      static_cast<int64_t>(o.max_time_width),
      static_cast<int64_t>(std::floor(o.time_width_fraction * static_cast<double>(frames))));
  SpecAugmentMasks masks;
  for (int i = 0; i < o.freq_masks; ++i)
    masks.freq.push_back(draw(freq_stream, static_cast<uint64_t>(i), o.freq_width, mels));
  for (int i = 0; i < o.time_masks; ++i)
    masks.time.push_back(draw(time_stream, static_cast<uint64_t>(i), time_limit, frames));
  return masks;
}

void spec_augment(std::vector<float>& features, int64_t frames, int mels, uint64_t key,
                  const SpecAugmentOptions& options) {
  const SpecAugmentMasks masks = spec_augment_masks(frames, mels, key, options);
  const auto width = static_cast<size_t>(mels);
  if (features.size() != static_cast<size_t>(frames) * width)
    throw std::invalid_argument("spec augment: " + std::to_string(features.size()) +
                                " values are not " + std::to_string(frames) + " frames x " +
                                std::to_string(mels) + " mels");
  for (const Mask& m : masks.freq)
    for (size_t t = 0; t < static_cast<size_t>(frames); ++t)
      std::fill_n(features.data() + t * width + m.start, m.width, 0.0f);
  for (const Mask& m : masks.time)
    std::fill_n(features.data() + static_cast<size_t>(m.start) * width,
                static_cast<size_t>(m.width) * width, 0.0f);
}

}  // namespace speech
