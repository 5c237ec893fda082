#include "audio.h"

#include <samplerate.h>
#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "common/files.h"
#include "common/run_lock.h"

namespace speech {
namespace {

// Closes the file on every path out of read_audio.
struct SndFile {
  SNDFILE* file = nullptr;
  ~SndFile() {
    if (file) sf_close(file);
  }
};

void append_le(std::string& out, uint32_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

// A canonical 44-byte header of a mono 16-bit PCM WAV file.
std::string wav_header(uint32_t frames, int rate) {
  const uint32_t data_bytes = frames * 2;
  std::string h = "RIFF";
  append_le(h, 36 + data_bytes, 4);
  h += "WAVEfmt ";
  append_le(h, 16, 4);                               // fmt chunk size
  append_le(h, 1, 2);                                // PCM
  append_le(h, 1, 2);                                // channels
  append_le(h, static_cast<uint32_t>(rate), 4);      // frames per second
  append_le(h, static_cast<uint32_t>(rate) * 2, 4);  // bytes per second
  append_le(h, 2, 2);                                // bytes per frame
  append_le(h, 16, 2);                               // bits per sample
  h += "data";
  append_le(h, data_bytes, 4);
  return h;
}

}  // namespace

std::vector<float> read_audio(const std::string& path, int sample_rate) {
  // libsndfile would block on a FIFO and read a device forever: regular files only.
  if (std::string problem = examples::input_file_problem("", path); !problem.empty())
    throw examples::InputError(problem);
  SF_INFO info{};
  SndFile f{sf_open(path.c_str(), SFM_READ, &info)};
  if (!f.file) throw examples::InputError(path + ": " + sf_strerror(nullptr));
  if (info.channels != 1)
    throw examples::InputError(path + ": " + std::to_string(info.channels) +
                               " channels; lg-speech needs mono audio");
  if (info.frames <= 0) throw examples::InputError(path + ": no audio samples");
  if (info.samplerate <= 0)
    throw examples::InputError(path + ": sample rate " + std::to_string(info.samplerate));
  std::vector<float> samples(static_cast<size_t>(info.frames));
  const sf_count_t got = sf_readf_float(f.file, samples.data(), info.frames);
  if (got <= 0)
    throw examples::InputError(path + ": cannot read its samples: " + sf_strerror(f.file));
  samples.resize(static_cast<size_t>(got));
  return resample(samples, info.samplerate, sample_rate);
}

void write_wav(const std::string& path, const std::vector<float>& samples, int rate) {
  if (rate <= 0) throw std::invalid_argument(path + ": sample rate " + std::to_string(rate));
  if (samples.size() > (UINT32_MAX - 36) / 2)
    throw std::runtime_error(path + ": too long for a WAV file");
  std::string bytes = wav_header(static_cast<uint32_t>(samples.size()), rate);
  bytes.reserve(bytes.size() + 2 * samples.size());
  for (float s : samples) {
    const float clamped = std::isnan(s) ? 0.0f : std::clamp(s, -1.0f, 1.0f);
    const auto v = static_cast<int16_t>(std::lrint(clamped * 32767.0f));
    append_le(bytes, static_cast<uint16_t>(v), 2);
  }
  examples::write_file_atomically(path, bytes);
}

std::vector<float> resample(const std::vector<float>& samples, int from_rate, int to_rate) {
  if (from_rate <= 0 || to_rate <= 0)
    throw std::invalid_argument("resample: rates " + std::to_string(from_rate) + " -> " +
                                std::to_string(to_rate) + " must be positive");
  if (from_rate == to_rate || samples.empty()) return samples;
  const double ratio = static_cast<double>(to_rate) / from_rate;
  std::vector<float> out(
      static_cast<size_t>(std::ceil(static_cast<double>(samples.size()) * ratio)) + 16);
  SRC_DATA data{};
  data.data_in = samples.data();
  data.input_frames = static_cast<long>(samples.size());
  data.data_out = out.data();
  data.output_frames = static_cast<long>(out.size());
  data.src_ratio = ratio;
  if (int error = src_simple(&data, SRC_SINC_MEDIUM_QUALITY, 1); error != 0)
    throw std::runtime_error(std::string("resample: ") + src_strerror(error));
  out.resize(static_cast<size_t>(data.output_frames_gen));
  return out;
}

}  // namespace speech
