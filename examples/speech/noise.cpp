#include "noise.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numbers>

#include "common/data_loader.h"

namespace speech {
namespace {

// SplitMix64 as a stream: a uniform and a standard normal sample per call.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t bits() {
    const uint64_t r = examples::splitmix64(state_);
    state_ += 0x9E3779B97F4A7C15ull;
    return r;
  }
  // Uniform in (0, 1): never 0, so that log() below is finite.
  double uniform() { return (static_cast<double>(bits() >> 11) + 0.5) * 0x1.0p-53; }
  // Box-Muller, one of the pair.
  double normal() {
    const double r = std::sqrt(-2.0 * std::log(uniform()));
    return r * std::cos(2.0 * std::numbers::pi * uniform());
  }

 private:
  uint64_t state_;
};

// Voss-McCartney: the sum of kRows white sources, row r redrawn every 2^r
// samples (at the samples whose index has r trailing zeros), and one redrawn
// every sample; the spectrum falls by about 3 dB an octave.
std::vector<double> pink(size_t n, Random& rng) {
  constexpr int kRows = 16;
  double rows[kRows];
  double sum = 0;
  for (double& r : rows) sum += (r = rng.normal());
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) {
      const int row = std::min(std::countr_zero(i), kRows - 1);
      const double fresh = rng.normal();
      sum += fresh - rows[row];
      rows[row] = fresh;
    }
    out[i] = sum + rng.normal();
  }
  return out;
}

// Integrated white noise with a slight leak (a pole at 0.995, about 13 Hz at
// 16 kHz) so that it does not wander off: 6 dB an octave.
std::vector<double> brown(size_t n, Random& rng) {
  std::vector<double> out(n);
  double level = 0;
  for (double& x : out) x = level = 0.995 * level + rng.normal();
  return out;
}

}  // namespace

std::string noise_name(Noise noise) {
  switch (noise) {
    case Noise::None:
      return "none";
    case Noise::White:
      return "white";
    case Noise::Pink:
      return "pink";
    case Noise::Brown:
      return "brown";
  }
  return "?";
}

std::optional<Noise> parse_noise(std::string_view name) {
  for (Noise n : {Noise::None, Noise::White, Noise::Pink, Noise::Brown})
    if (name == noise_name(n)) return n;
  return std::nullopt;
}

std::vector<float> make_noise(Noise noise, size_t n, uint64_t seed) {
  Random rng(seed);
  std::vector<double> x(n, 0.0);
  if (noise == Noise::White)
    for (double& v : x) v = rng.normal();
  if (noise == Noise::Pink) x = pink(n, rng);
  if (noise == Noise::Brown) x = brown(n, rng);
  double mean = 0, power = 0;
  for (double v : x) mean += v;
  mean /= std::max<size_t>(n, 1);
  for (double v : x) power += (v - mean) * (v - mean);
  const double scale = power > 0 ? std::sqrt(static_cast<double>(n) / power) : 0.0;
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>((x[i] - mean) * scale);
  return out;
}

void add_noise(std::vector<float>& speech, Noise noise, double snr_db, uint64_t seed) {
  if (noise != Noise::None && !speech.empty()) {
    double power = 0;
    for (float s : speech) power += static_cast<double>(s) * s;
    const double rms = std::sqrt(power / static_cast<double>(speech.size()));
    const double noise_rms = rms / std::pow(10.0, snr_db / 20.0);
    const std::vector<float> n = make_noise(noise, speech.size(), seed);
    for (size_t i = 0; i < speech.size(); ++i)
      speech[i] = static_cast<float>(speech[i] + noise_rms * n[i]);
  }
  float peak = 0;
  for (float s : speech) peak = std::max(peak, std::fabs(s));
  if (peak > kMaxPeak)
    for (float& s : speech) s *= kMaxPeak / peak;
}

}  // namespace speech
