// Audio files for lg-speech: any file libsndfile reads (WAV, FLAC, OGG, ...)
// as mono float samples at the model's rate, and 16-bit WAV files written
// atomically.
#pragma once
#include <string>
#include <vector>

namespace speech {

inline constexpr int kSampleRate = 16000;  // the rate the model hears

// The samples of a mono audio file in [-1, 1], resampled to sample_rate when
// the file has another rate. Throws examples::InputError naming the path where
// the file is missing, not a regular file, unreadable (libsndfile's reason),
// has no samples, or has more than one channel.
std::vector<float> read_audio(const std::string& path, int sample_rate = kSampleRate);

// Writes samples (clamped to [-1, 1]) as a mono 16-bit PCM WAV file: a
// temporary file beside path, renamed over it, removed on error. Throws
// std::runtime_error naming the path.
void write_wav(const std::string& path, const std::vector<float>& samples, int rate);

// samples at from_rate, resampled to to_rate (libsamplerate, medium-quality
// sinc); a copy when the rates are equal. Throws std::invalid_argument for a
// rate that is not positive.
std::vector<float> resample(const std::vector<float>& samples, int from_rate, int to_rate);

}  // namespace speech
