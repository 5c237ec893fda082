// SpecAugment (Park et al. 2019) without time warping: bands of mel channels
// and runs of frames set to 0, the mean of per-utterance normalised features,
// chosen from a key so that an augmented batch depends on (seed, epoch,
// sample) only.
#pragma once
#include <cstdint>
#include <vector>

namespace speech {

struct SpecAugmentOptions {
  int freq_masks = 2;
  int freq_width = 15;  // each band is 0 .. freq_width channels wide
  int time_masks = 2;
  // Each run of frames is 0 .. min(max_time_width, time_width_fraction * frames) long.
  double time_width_fraction = 0.05;
  int max_time_width = 20;
};

struct Mask {
  int64_t start = 0, width = 0;  // [start, start + width); width may be 0
};

struct SpecAugmentMasks {
  std::vector<Mask> freq;  // over mel channels, options.freq_masks of them
  std::vector<Mask> time;  // over frames, options.time_masks of them
};

// The masks for a [frames x mels] utterance under key; each lies within its
// axis. Throws std::invalid_argument ("spec augment: ...") for negative
// counts or widths, a fraction outside [0, 1], or mels <= 0.
SpecAugmentMasks spec_augment_masks(int64_t frames, int mels, uint64_t key,
                                    const SpecAugmentOptions& options = {});

// Zeroes the masks of spec_augment_masks(frames, mels, key, options) in the
// [frames x mels] row-major features. Also throws std::invalid_argument when
// features.size() != frames * mels.
void spec_augment(std::vector<float>& features, int64_t frames, int mels, uint64_t key,
                  const SpecAugmentOptions& options = {});

}  // namespace speech
