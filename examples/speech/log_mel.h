// Log-mel spectra of speech: framed, Hann-windowed power spectra (FFTW) summed
// by HTK-scale triangular mel filters, then log(mel + 1e-6), as torchaudio's
// MelSpectrogram(power=2, center=False, norm=None, mel_scale="htk") followed by
// a log; and the per-utterance normalisation the model sees.
#pragma once
#include <cstdint>
#include <vector>

namespace speech {

struct MelOptions {
  int sample_rate = 16000;
  int window = 400;  // samples per frame (25 ms)
  int hop = 160;     // samples between frame starts (10 ms)
  int n_fft = 512;   // the frame zero-padded to this length; >= window
  int mels = 80;
  double f_min = 0, f_max = 8000;  // the filters' range in Hz, within [0, sample_rate / 2]
};

// The number of frames of n samples: 1 + (n - window) / hop, 0 when n < window.
int64_t frame_count(int64_t samples, const MelOptions& options);

// Triangular filters on the HTK mel scale (mel = 2595 log10(1 + f / 700)),
// [mels x (n_fft / 2 + 1)] row-major: filter m rises from centre m - 1 to its
// peak 1 at centre m and falls to 0 at centre m + 1, the mels + 2 centres
// equally spaced in mel from f_min to f_max; unnormalised (norm=None).
std::vector<float> mel_filterbank(const MelOptions& options);

class LogMel {
 public:
  // Throws std::invalid_argument ("log-mel: ...") for options that make no
  // spectrum (a non-positive size, window > n_fft, a bad frequency range).
  explicit LogMel(MelOptions options = {});
  ~LogMel();
  LogMel(const LogMel&) = delete;
  LogMel& operator=(const LogMel&) = delete;

  // samples -> [frames x mels] row-major, *frames = frame_count(samples.size()):
  // frame t is samples [t * hop, t * hop + window) times a periodic Hann
  // window, zero-padded at the end to n_fft. Fewer samples than one window
  // give 0 frames (an empty vector): the caller decides whether that is an
  // error. Safe to call from several threads at once.
  std::vector<float> compute(const std::vector<float>& samples, int64_t* frames) const;

  const std::vector<float>& filterbank() const { return filterbank_; }  // as mel_filterbank
  const MelOptions& options() const { return options_; }

 private:
  struct Band {  // the bins where one filter is not zero
    int first = 0, end = 0;
  };
  MelOptions options_;
  std::vector<float> hann_;
  std::vector<float> filterbank_;
  std::vector<Band> bands_;
  void* plan_ = nullptr;  // an fftwf_plan; void* keeps fftw3.h out of this header
};

// Scales each mel channel of [frames x mels] features to mean 0 and variance 1
// over the utterance (a constant channel becomes 0). Throws
// std::invalid_argument when features.size() != frames * mels.
void normalize_per_utterance(std::vector<float>& features, int64_t frames, int mels);

}  // namespace speech
