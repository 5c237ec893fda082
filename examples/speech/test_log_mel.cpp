// Log-mel features against a direct DFT in double, the mel filterbank's shape,
// frame counts, thread safety, and the per-utterance normalisation.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <random>
#include <thread>

#include "log_mel.h"
#include "tests/test_util.h"

namespace {

using speech::MelOptions;

double hz_to_mel(double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); }
double mel_to_hz(double mel) { return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0); }

std::vector<float> noise(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  std::vector<float> x(n);
  for (float& v : x) v = u(gen);
  return x;
}

std::vector<float> sine(size_t n, double hz, double amplitude, int sample_rate) {
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i)
    x[i] = static_cast<float>(
        amplitude * std::sin(2 * std::numbers::pi * hz * static_cast<double>(i) / sample_rate));
  return x;
}

// The log-mel spectrum the slow way: each frame's DFT summed term by term in
// double, with the filterbank under test (checked on its own below).
std::vector<double> reference_log_mel(const std::vector<float>& x, const MelOptions& o,
                                      const std::vector<float>& fb) {
  const int64_t frames = speech::frame_count(static_cast<int64_t>(x.size()), o);
  const int bins = o.n_fft / 2 + 1;
  std::vector<double> out;
  for (int64_t t = 0; t < frames; ++t) {
    std::vector<double> power(static_cast<size_t>(bins));
    for (int k = 0; k < bins; ++k) {
      double re = 0, im = 0;
      for (int i = 0; i < o.window; ++i) {
        const double w = 0.5 - 0.5 * std::cos(2 * std::numbers::pi * i / o.window);
        const double v = w * x[static_cast<size_t>(t * o.hop + i)];
        const double angle = 2 * std::numbers::pi * k * i / o.n_fft;
        re += v * std::cos(angle);
        im -= v * std::sin(angle);
      }
      power[static_cast<size_t>(k)] = re * re + im * im;
    }
    for (int m = 0; m < o.mels; ++m) {
      double sum = 0;
      for (int k = 0; k < bins; ++k)
        sum += fb[static_cast<size_t>(m * bins + k)] * power[static_cast<size_t>(k)];
      out.push_back(std::log(sum + 1e-6));
    }
  }
  return out;
}

double max_difference(const std::vector<float>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
  return worst;
}

MelOptions small_options() {
  MelOptions o;
  o.sample_rate = 8000;
  o.window = 200;
  o.hop = 80;
  o.n_fft = 256;
  o.mels = 23;
  o.f_min = 100;
  o.f_max = 3800;
  return o;
}

}  // namespace

TEST_CASE("frames = 1 + (n - window) / hop, none below one window") {
  speech::LogMel mel;
  for (auto [n, want] :
       {std::pair<size_t, int64_t>{0, 0}, {399, 0}, {400, 1}, {559, 1}, {560, 2}, {16000, 98}}) {
    int64_t frames = -1;
    const std::vector<float> f = mel.compute(std::vector<float>(n, 0.1f), &frames);
    CHECK(frames == want);
    CHECK(speech::frame_count(static_cast<int64_t>(n), mel.options()) == want);
    CHECK(f.size() == static_cast<size_t>(want) * 80);
  }
  CHECK(mel.compute(std::vector<float>(100), nullptr).empty());
}

TEST_CASE("log-mel of noise and of a sine matches a direct DFT in double") {
  for (const MelOptions& o : {MelOptions{}, small_options()}) {
    speech::LogMel mel(o);
    const auto window = static_cast<size_t>(o.window), hop = static_cast<size_t>(o.hop);
    for (const std::vector<float>& x :
         {noise(window + 3 * hop + 17, 1), sine(window + 4 * hop, 1000, 0.3, o.sample_rate)}) {
      int64_t frames = 0;
      const std::vector<float> got = mel.compute(x, &frames);
      CHECK(frames >= 4);
      CHECK(max_difference(got, reference_log_mel(x, o, mel.filterbank())) < 1e-3);
    }
  }
}

TEST_CASE("a sine's loudest mel channel is the one centred nearest its frequency") {
  const MelOptions o;
  speech::LogMel mel(o);
  for (double hz : {300.0, 1000.0, 2500.0, 6000.0}) {
    int64_t frames = 0;
    const std::vector<float> f = mel.compute(sine(4000, hz, 0.5, o.sample_rate), &frames);
    const auto loudest = std::max_element(f.begin(), f.begin() + o.mels) - f.begin();
    // Centre of channel m: the (m + 1)-th of mels + 2 points equally spaced in mel.
    const double step = hz_to_mel(o.f_max) / (o.mels + 1);
    const double nearest = std::round(hz_to_mel(hz) / step) - 1;
    INFO("sine at " << hz << " Hz");
    CHECK(std::fabs(static_cast<double>(loudest) - nearest) <= 1);
  }
}

TEST_CASE("the mel filters are triangles between HTK-scale centres that sum to 1") {
  for (const MelOptions& o : {MelOptions{}, small_options()}) {
    const std::vector<float> fb = speech::mel_filterbank(o);
    const int bins = o.n_fft / 2 + 1;
    const double bin_hz = o.sample_rate / static_cast<double>(o.n_fft);
    REQUIRE(fb.size() == static_cast<size_t>(o.mels * bins));
    const double lo = hz_to_mel(o.f_min), hi = hz_to_mel(o.f_max);
    auto centre = [&](int i) { return mel_to_hz(lo + (hi - lo) * i / (o.mels + 1)); };
    for (int m = 0; m < o.mels; ++m) {
      const float* row = fb.data() + m * bins;
      const auto peak = std::max_element(row, row + bins) - row;
      INFO("filter " << m);
      CHECK(row[peak] > 0.0f);
      CHECK(row[peak] <= 1.0f);
      // The peak is one of the two bins around the centre frequency.
      CHECK(std::fabs(static_cast<double>(peak) * bin_hz - centre(m + 1)) < bin_hz);
      for (int b = 0; b < bins; ++b) {
        CHECK(row[b] >= 0.0f);
        const double f = b * bin_hz;
        if (f <= centre(m) || f >= centre(m + 2)) CHECK(row[b] == 0.0f);
      }
    }
    // Between the first and last centres each frequency lies on the falling
    // edge of one triangle and the rising edge of the next.
    for (int b = 0; b < bins; ++b) {
      const double f = b * bin_hz;
      if (f <= centre(1) || f >= centre(o.mels)) continue;
      double sum = 0;
      for (int m = 0; m < o.mels; ++m) sum += fb[static_cast<size_t>(m * bins + b)];
      CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
    }
  }
}

TEST_CASE("compute() from two threads at once gives the single-threaded result") {
  speech::LogMel mel;
  const std::vector<float> x = noise(16000, 7);
  int64_t frames = 0;
  const std::vector<float> want = mel.compute(x, &frames);
  std::vector<float> a, b;
  std::thread ta([&] { a = mel.compute(x, nullptr); });
  std::thread tb([&] { b = mel.compute(x, nullptr); });
  ta.join();
  tb.join();
  CHECK(a == want);
  CHECK(b == want);
}

TEST_CASE("bad mel options are errors naming the option") {
  auto error = [](auto change) {
    MelOptions o;
    change(o);
    return error_of([&] { speech::LogMel mel(o); });
  };
  CHECK(contains(error([](MelOptions& o) { o.window = 0; }), "log-mel: window 0"));
  CHECK(contains(error([](MelOptions& o) { o.hop = -1; }), "log-mel: hop -1"));
  CHECK(contains(error([](MelOptions& o) { o.mels = 0; }), "log-mel: 0 mel filters"));
  CHECK(contains(error([](MelOptions& o) { o.sample_rate = 0; }), "log-mel: sample rate 0"));
  CHECK(contains(error([](MelOptions& o) { o.n_fft = 256; }), "log-mel: n_fft 256 is smaller"));
  CHECK(contains(error([](MelOptions& o) { o.f_max = 9000; }), "log-mel: the filter range"));
  CHECK(contains(error([](MelOptions& o) { o.f_min = 8000; }), "log-mel: the filter range"));
}

TEST_CASE("per-utterance normalisation: each channel mean 0 and variance 1") {
  const int64_t frames = 50;
  const int mels = 6;
  std::vector<float> f = noise(static_cast<size_t>(frames * mels), 3);
  for (size_t i = 0; i < f.size(); ++i) f[i] = f[i] * static_cast<float>(1 + i % 6) - 7.0f;
  for (int64_t t = 0; t < frames; ++t) f[static_cast<size_t>(t * mels + 2)] = 4.0f;  // constant
  speech::normalize_per_utterance(f, frames, mels);
  for (int m = 0; m < mels; ++m) {
    double sum = 0, sum_sq = 0;
    for (int64_t t = 0; t < frames; ++t) sum += f[static_cast<size_t>(t * mels + m)];
    const double mean = sum / frames;
    for (int64_t t = 0; t < frames; ++t)
      sum_sq += std::pow(f[static_cast<size_t>(t * mels + m)] - mean, 2);
    INFO("channel " << m);
    CHECK(std::fabs(mean) < 1e-5);
    CHECK(sum_sq / frames == doctest::Approx(m == 2 ? 0.0 : 1.0).epsilon(1e-4));
  }
  std::vector<float> none;
  speech::normalize_per_utterance(none, 0, mels);
  CHECK(none.empty());
  CHECK(contains(error_of([&] { speech::normalize_per_utterance(f, frames + 1, mels); }),
                 "normalize_per_utterance: 300 values are not 51 frames x 6 mels"));
}
