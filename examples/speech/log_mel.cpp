#include "log_mel.h"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <numbers>
#include <stdexcept>
#include <string>

namespace speech {

namespace {

// FFTW's planner and plan destruction share global state and are not
// thread-safe; only fftwf_execute* is.
std::mutex& fftw_planner_mutex() {
  static std::mutex mutex;
  return mutex;
}

struct FftwFree {
  void operator()(void* p) const { fftwf_free(p); }
};
template <typename T>
using FftwBuffer = std::unique_ptr<T[], FftwFree>;

// fftwf_malloc'ed so that every buffer has the alignment of the planning ones,
// which fftwf_execute_dft_r2c on new arrays requires.
template <typename T>
FftwBuffer<T> fftw_buffer(size_t n) {
  auto* p = static_cast<T*>(fftwf_malloc(sizeof(T) * n));
  if (p == nullptr) throw std::bad_alloc();
  return FftwBuffer<T>(p);
}

double hz_to_mel(double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); }
double mel_to_hz(double mel) { return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0); }

void check_options(const MelOptions& o) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("log-mel: " + what); };
  if (o.sample_rate <= 0) fail("sample rate " + std::to_string(o.sample_rate) + " is not positive");
  if (o.window <= 0) fail("window " + std::to_string(o.window) + " is not positive");
  if (o.hop <= 0) fail("hop " + std::to_string(o.hop) + " is not positive");
  if (o.mels <= 0) fail(std::to_string(o.mels) + " mel filters: need at least one");
  if (o.n_fft < o.window)
    fail("n_fft " + std::to_string(o.n_fft) + " is smaller than the window (" +
         std::to_string(o.window) + ")");
  const double nyquist = o.sample_rate / 2.0;
  if (!(o.f_min >= 0 && o.f_min < o.f_max && o.f_max <= nyquist))
    fail("the filter range " + std::to_string(o.f_min) + " .. " + std::to_string(o.f_max) +
         " Hz is not within 0 .. " + std::to_string(nyquist) + " Hz with f_min < f_max");
}

}  // namespace

int64_t frame_count(int64_t samples, const MelOptions& o) {
  if (o.window <= 0 || o.hop <= 0 || samples < o.window) return 0;
  return 1 + (samples - o.window) / o.hop;
}

std::vector<float> mel_filterbank(const MelOptions& o) {
  check_options(o);
  const int bins = o.n_fft / 2 + 1;
  const double mel_min = hz_to_mel(o.f_min), mel_max = hz_to_mel(o.f_max);
  std::vector<double> centre(static_cast<size_t>(o.mels) + 2);
  for (size_t i = 0; i < centre.size(); ++i)
    centre[i] = mel_to_hz(mel_min + (mel_max - mel_min) * static_cast<double>(i) /
                                        static_cast<double>(o.mels + 1));
  std::vector<float> fb(static_cast<size_t>(o.mels) * static_cast<size_t>(bins), 0.0f);
  for (int m = 0; m < o.mels; ++m) {
    const auto k = static_cast<size_t>(m);
    const double lo = centre[k], mid = centre[k + 1], hi = centre[k + 2];
    for (int b = 0; b < bins; ++b) {
      // The bins are equally spaced from 0 to the Nyquist frequency.
      const double f = (o.sample_rate / 2.0) * b / (bins - 1);
      const double rise = (f - lo) / (mid - lo), fall = (hi - f) / (hi - mid);
      const double w = std::max(0.0, std::min(rise, fall));
      fb[k * static_cast<size_t>(bins) + static_cast<size_t>(b)] = static_cast<float>(w);
    }
  }
  return fb;
}

LogMel::LogMel(MelOptions options) : options_(options), filterbank_(mel_filterbank(options)) {
  const int bins = options_.n_fft / 2 + 1;
  hann_.resize(static_cast<size_t>(options_.window));
  // Periodic, as torch.hann_window by default: the symmetric window of
  // window + 1 points less its last.
  for (int i = 0; i < options_.window; ++i)
    hann_[static_cast<size_t>(i)] =
        static_cast<float>(0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * i / options_.window));
  for (int m = 0; m < options_.mels; ++m) {
    const float* row = filterbank_.data() + static_cast<size_t>(m) * static_cast<size_t>(bins);
    Band band{bins, 0};
    for (int b = 0; b < bins; ++b)
      if (row[b] != 0.0f) {
        band.first = std::min(band.first, b);
        band.end = b + 1;
      }
    if (band.end == 0) band.first = 0;
    bands_.push_back(band);
  }
  auto in = fftw_buffer<float>(static_cast<size_t>(options_.n_fft));
  auto out = fftw_buffer<fftwf_complex>(static_cast<size_t>(bins));
  std::lock_guard lock(fftw_planner_mutex());
  plan_ = fftwf_plan_dft_r2c_1d(options_.n_fft, in.get(), out.get(), FFTW_ESTIMATE);
  if (plan_ == nullptr)
    throw std::runtime_error("log-mel: FFTW made no plan for n_fft " +
                             std::to_string(options_.n_fft));
}

LogMel::~LogMel() {
  std::lock_guard lock(fftw_planner_mutex());
  fftwf_destroy_plan(static_cast<fftwf_plan>(plan_));
}

std::vector<float> LogMel::compute(const std::vector<float>& samples, int64_t* frames) const {
  const int64_t n_frames = frame_count(static_cast<int64_t>(samples.size()), options_);
  if (frames != nullptr) *frames = n_frames;
  const auto n_fft = static_cast<size_t>(options_.n_fft);
  const auto window = static_cast<size_t>(options_.window);
  const size_t bins = n_fft / 2 + 1;
  const auto mels = static_cast<size_t>(options_.mels);
  std::vector<float> features(static_cast<size_t>(n_frames) * mels);
  if (n_frames == 0) return features;

  auto in = fftw_buffer<float>(n_fft);
  auto out = fftw_buffer<fftwf_complex>(bins);
  std::vector<float> power(bins);
  for (size_t i = window; i < n_fft; ++i) in[i] = 0.0f;
  for (size_t t = 0; t < static_cast<size_t>(n_frames); ++t) {
    const float* frame = samples.data() + t * static_cast<size_t>(options_.hop);
    for (size_t i = 0; i < window; ++i) in[i] = frame[i] * hann_[i];
    fftwf_execute_dft_r2c(static_cast<fftwf_plan>(plan_), in.get(), out.get());
    for (size_t b = 0; b < bins; ++b) power[b] = out[b][0] * out[b][0] + out[b][1] * out[b][1];
    for (size_t m = 0; m < mels; ++m) {
      const float* row = filterbank_.data() + m * bins;
      double sum = 0;
      for (int b = bands_[m].first; b < bands_[m].end; ++b)
        sum += static_cast<double>(row[b]) * power[static_cast<size_t>(b)];
      features[t * mels + m] = static_cast<float>(std::log(sum + 1e-6));
    }
  }
  return features;
}

void normalize_per_utterance(std::vector<float>& features, int64_t frames, int mels) {
  if (frames < 0 || mels <= 0 ||
      features.size() != static_cast<size_t>(frames) * static_cast<size_t>(mels))
    throw std::invalid_argument("normalize_per_utterance: " + std::to_string(features.size()) +
                                " values are not " + std::to_string(frames) + " frames x " +
                                std::to_string(mels) + " mels");
  if (frames == 0) return;
  const auto n = static_cast<size_t>(frames), width = static_cast<size_t>(mels);
  for (size_t m = 0; m < width; ++m) {
    double sum = 0, sum_sq = 0;
    for (size_t t = 0; t < n; ++t) sum += features[t * width + m];
    const double mean = sum / static_cast<double>(n);
    for (size_t t = 0; t < n; ++t) {
      const double d = features[t * width + m] - mean;
      sum_sq += d * d;
    }
    const double var = sum_sq / static_cast<double>(n);
    // Below this the channel is constant up to float rounding: scaling it up
    // would only amplify the rounding.
    const double scale = var > 1e-10 ? 1.0 / std::sqrt(var) : 0.0;
    for (size_t t = 0; t < n; ++t) {
      float& x = features[t * width + m];
      x = static_cast<float>((x - mean) * scale);
    }
  }
}

}  // namespace speech
