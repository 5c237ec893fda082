// SpecAugment: masks fixed by the key, within their axes and widths, applied
// exactly where they say; tiny inputs and bad options.
#include <doctest/doctest.h>

#include "spec_augment.h"
#include "tests/test_util.h"

namespace {

using speech::Mask;
using speech::SpecAugmentMasks;
using speech::SpecAugmentOptions;

bool same(const std::vector<Mask>& a, const std::vector<Mask>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].start != b[i].start || a[i].width != b[i].width) return false;
  return true;
}

bool inside(const std::vector<Mask>& masks, int64_t i) {
  for (const Mask& m : masks)
    if (i >= m.start && i < m.start + m.width) return true;
  return false;
}

}  // namespace

TEST_CASE("the same key gives the same masks, other keys other masks") {
  const SpecAugmentMasks a = speech::spec_augment_masks(300, 80, 42);
  const SpecAugmentMasks b = speech::spec_augment_masks(300, 80, 42);
  CHECK(same(a.freq, b.freq));
  CHECK(same(a.time, b.time));
  int differ = 0;
  for (uint64_t key = 43; key < 53; ++key) {
    const SpecAugmentMasks c = speech::spec_augment_masks(300, 80, key);
    differ += !same(a.freq, c.freq) && !same(a.time, c.time);
  }
  CHECK(differ >= 9);
}

TEST_CASE("masks lie within their axis and widths, and reach the widest allowed") {
  const SpecAugmentOptions o;  // time width at most min(20, 0.05 * 300) = 15
  int64_t widest_freq = 0, widest_time = 0, narrowest = 100;
  for (uint64_t key = 0; key < 400; ++key) {
    const SpecAugmentMasks m = speech::spec_augment_masks(300, 80, key, o);
    REQUIRE(m.freq.size() == 2);
    REQUIRE(m.time.size() == 2);
    for (const Mask& f : m.freq) {
      CHECK(f.start >= 0);
      CHECK(f.width <= 15);
      CHECK(f.start + f.width <= 80);
      widest_freq = std::max(widest_freq, f.width);
      narrowest = std::min(narrowest, f.width);
    }
    for (const Mask& t : m.time) {
      CHECK(t.start >= 0);
      CHECK(t.width <= 15);
      CHECK(t.start + t.width <= 300);
      widest_time = std::max(widest_time, t.width);
    }
  }
  CHECK(widest_freq == 15);
  CHECK(widest_time == 15);
  CHECK(narrowest == 0);
  SpecAugmentOptions long_utterances;
  long_utterances.time_width_fraction = 0.5;
  for (uint64_t key = 0; key < 100; ++key)
    for (const Mask& t : speech::spec_augment_masks(300, 80, key, long_utterances).time)
      CHECK(t.width <= 20);
}

TEST_CASE("spec_augment zeroes exactly the masked channels and frames") {
  const int64_t frames = 120;
  const int mels = 40;
  SpecAugmentOptions o;
  o.time_width_fraction = 0.2;
  for (uint64_t key : {1u, 2u, 3u}) {
    std::vector<float> f(static_cast<size_t>(frames * mels), 1.5f);
    speech::spec_augment(f, frames, mels, key, o);
    const SpecAugmentMasks m = speech::spec_augment_masks(frames, mels, key, o);
    int64_t zeros = 0;
    for (int64_t t = 0; t < frames; ++t)
      for (int c = 0; c < mels; ++c) {
        const float v = f[static_cast<size_t>(t * mels + c)];
        const bool masked = inside(m.time, t) || inside(m.freq, c);
        CHECK(v == (masked ? 0.0f : 1.5f));
        zeros += masked;
      }
    CHECK(zeros > 0);
  }
}

TEST_CASE("short inputs: no frames, too few frames for a time mask, few channels") {
  std::vector<float> none;
  speech::spec_augment(none, 0, 80, 5);
  CHECK(none.empty());
  for (uint64_t key = 0; key < 50; ++key) {
    for (const Mask& t : speech::spec_augment_masks(5, 80, key).time) CHECK(t.width == 0);
    for (const Mask& f : speech::spec_augment_masks(100, 4, key).freq) {
      CHECK(f.width <= 4);
      CHECK(f.start + f.width <= 4);
    }
  }
  std::vector<float> one(3, 2.0f);
  speech::spec_augment(one, 1, 3, 9);
  CHECK(one.size() == 3);
}

TEST_CASE("bad SpecAugment options and shapes are errors") {
  std::vector<float> f(10, 1.0f);
  CHECK(contains(error_of([&] { speech::spec_augment(f, 3, 5, 1); }),
                 "spec augment: 10 values are not 3 frames x 5 mels"));
  CHECK(contains(error_of([&] { speech::spec_augment(f, 10, 0, 1); }), "spec augment: 0 mel"));
  SpecAugmentOptions o;
  o.freq_masks = -1;
  CHECK(contains(error_of([&] { speech::spec_augment(f, 2, 5, 1, o); }), "mask counts -1"));
  o = {};
  o.max_time_width = -3;
  CHECK(contains(error_of([&] { speech::spec_augment(f, 2, 5, 1, o); }), "mask widths"));
  o = {};
  o.time_width_fraction = 1.5;
  CHECK(contains(error_of([&] { speech::spec_augment(f, 2, 5, 1, o); }), "time width fraction"));
}
