#include "corpus.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "audio.h"
#include "common/data_loader.h"
#include "common/files.h"
#include "common/interrupt.h"
#include "common/progress.h"
#include "common/run_lock.h"
#include "digits.h"
#include "synth.h"

namespace fs = std::filesystem;

namespace speech {
namespace {

constexpr int kMinSpeed = 130, kMaxSpeed = 200;
constexpr int kMinPitch = 30, kMaxPitch = 70;
constexpr int kCleanPercent = 15;
constexpr int kMinSnrCentiDb = 500, kMaxSnrCentiDb = 3000;

// The relative path of utterance index's audio file.
std::string audio_path(Split split, int64_t index) {
  return "audio/" + split_name(split) + "/" + std::to_string(index) + ".wav";
}

std::string absolute_in(const fs::path& root, const std::string& relative) {
  return (root / relative).lexically_normal().string();
}

// The live "\r" line on a terminal, else a plain line at every tenth.
class SynthesisProgress {
 public:
  SynthesisProgress(bool enabled, int64_t total)
      : enabled_(enabled), live_(examples::ProgressLine::is_terminal(stderr)), total_(total) {}

  void done(double audio_s) {
    std::lock_guard lock(mutex_);
    ++done_;
    audio_s_ += audio_s;
    if (!enabled_) return;
    const double elapsed = seconds();
    const bool tenth = done_ * 10 / total_ != (done_ - 1) * 10 / total_;
    if (live_ ? elapsed - printed_at_ >= 0.25 || done_ == total_ : tenth) {
      printed_at_ = elapsed;
      const double eta = elapsed / static_cast<double>(done_) * static_cast<double>(total_ - done_);
      std::fprintf(stderr, "%ssynthesising: %lld/%lld utterances, %s of audio, eta %s%s",
                   live_ ? "\r" : "", static_cast<long long>(done_), static_cast<long long>(total_),
                   examples::format_duration(audio_s_).c_str(),
                   examples::format_duration(eta).c_str(), live_ ? "\033[K" : "\n");
      std::fflush(stderr);
    }
  }

  void finish(const std::string& dir) {
    if (!enabled_) return;
    std::fprintf(stderr,
                 "%slg-speech: synthesised %lld utterances (%.2f h of audio) in %s into %s\n",
                 live_ ? "\r\033[K" : "", static_cast<long long>(done_), audio_s_ / 3600.0,
                 examples::format_duration(seconds()).c_str(), dir.c_str());
  }

  // Ends the live line before an error is reported.
  void abandon() {
    if (enabled_ && live_) std::fputs("\n", stderr);
  }

 private:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

  const bool enabled_, live_;
  const int64_t total_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::mutex mutex_;
  int64_t done_ = 0;
  double audio_s_ = 0, printed_at_ = -1;
};

// Whether the manifest at root describes exactly this corpus, with every
// audio file in place.
bool reusable(const fs::path& root, const CorpusOptions& o, std::vector<Utterance>& out) {
  const fs::path manifest = root / kManifestName;
  if (!fs::exists(manifest)) return false;
  Manifest m;
  try {
    m = load_manifest(manifest.string());
  } catch (const examples::InputError&) {
    return false;
  }
  if (m.utterances != o.utterances || m.seed != o.seed) return false;
  for (int64_t i = 0; i < o.utterances; ++i) {
    const Utterance& u = m.items[static_cast<size_t>(i)];
    const UtterancePlan p = plan_utterance(o.seed, i);
    std::error_code ec;
    if (u.path != absolute_in(root, audio_path(p.split, i)) || u.split != p.split ||
        u.transcript != p.transcript || u.voice != p.speaker.voice ||
        u.variant != p.speaker.variant || u.speed != p.speed || u.pitch != p.pitch ||
        u.noise != p.noise || u.snr_db != p.snr_db || !fs::is_regular_file(u.path, ec))
      return false;
  }
  out = std::move(m.items);
  return true;
}

Utterance synthesise(const fs::path& root, const CorpusOptions& o, int64_t index) {
  const UtterancePlan p = plan_utterance(o.seed, index);
  const std::string tmp = (root / "tmp" / (std::to_string(index) + ".wav")).string();
  std::vector<float> samples = speak(o.espeak, {p.speaker, p.speed, p.pitch, p.transcript}, tmp);
  add_noise(samples, p.noise, p.snr_db, p.noise_seed);
  Utterance u;
  u.path = absolute_in(root, audio_path(p.split, index));
  write_wav(u.path, samples, kSampleRate);
  u.transcript = p.transcript;
  u.voice = p.speaker.voice;
  u.variant = p.speaker.variant;
  u.split = p.split;
  u.speed = p.speed;
  u.pitch = p.pitch;
  u.noise = p.noise;
  u.snr_db = p.snr_db;
  u.duration_s = static_cast<double>(samples.size()) / kSampleRate;
  return u;
}

// Synthesises every utterance on `threads` workers taking the next index from
// a shared counter. After a failure the workers stop; the error of the lowest
// failed index is rethrown.
std::vector<Utterance> synthesise_all(const fs::path& root, const CorpusOptions& o, int threads,
                                      SynthesisProgress& progress) {
  std::vector<Utterance> out(static_cast<size_t>(o.utterances));
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  int64_t error_index = INT64_MAX;
  std::exception_ptr error;
  auto work = [&] {
    while (!failed) {
      const int64_t i = next++;
      if (i >= o.utterances) break;
      try {
        if (examples::interrupted()) throw std::runtime_error("lg-speech: synthesis interrupted");
        out[static_cast<size_t>(i)] = synthesise(root, o, i);
        progress.done(out[static_cast<size_t>(i)].duration_s);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (i < error_index) error_index = i, error = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::thread> pool;
  try {
    for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  } catch (const std::system_error&) {
    // No more threads to be had: the ones running share the work.
  }
  work();
  for (std::thread& t : pool) t.join();
  if (error) {
    progress.abandon();
    std::rethrow_exception(error);
  }
  return out;
}

void check_options(const CorpusOptions& o) {
  if (o.dir.empty()) throw examples::InputError("lg-speech: no corpus folder given");
  if (o.utterances <= 0 || o.utterances > 100'000'000)
    throw examples::InputError("lg-speech: " + std::to_string(o.utterances) +
                               " utterances; the corpus needs 1 to 100000000");
  if (o.threads < 0)
    throw examples::InputError("lg-speech: " + std::to_string(o.threads) + " threads");
}

}  // namespace

UtterancePlan plan_utterance(uint64_t seed, int64_t index) {
  const auto i = static_cast<uint64_t>(index);
  auto bits = [&](uint64_t field) {
    return examples::splitmix64(examples::mix_key({seed, i, field}));
  };
  UtterancePlan p;
  const uint64_t tenth = i % 10;
  p.split = tenth < 8 ? Split::Train : tenth == 8 ? Split::Validation : Split::Test;
  const std::vector<Speaker> pool = speakers(p.split);
  p.speaker = pool[examples::below(bits(1), pool.size())];
  p.speed = kMinSpeed + static_cast<int>(examples::below(bits(2), kMaxSpeed - kMinSpeed + 1));
  p.pitch = kMinPitch + static_cast<int>(examples::below(bits(3), kMaxPitch - kMinPitch + 1));
  p.transcript = random_digit_text(examples::mix_key({seed, i, 4}));
  if (examples::below(bits(5), 100) >= kCleanPercent) {
    p.noise = static_cast<Noise>(1 + examples::below(bits(6), 3));
    const auto centi =
        kMinSnrCentiDb + examples::below(bits(7), kMaxSnrCentiDb - kMinSnrCentiDb + 1);
    p.snr_db = static_cast<double>(centi) / 100.0;
  }
  p.noise_seed = examples::mix_key({seed, i, 8});
  return p;
}

std::vector<Utterance> prepare_corpus(const CorpusOptions& o) {
  check_options(o);
  const fs::path root =
      fs::absolute(fs::path(o.dir) / kManifestName).lexically_normal().parent_path();
  // A second run on the same corpus waits while the first checks or makes it.
  examples::RunLock lock = examples::claim_run_folder(root, {kManifestName}, "lg-speech",
                                                      examples::IfBusy::Wait);
  std::vector<Utterance> utterances;
  if (reusable(root, o, utterances)) {
    if (o.progress)
      std::printf("lg-speech: reusing the %lld utterances in %s\n",
                   static_cast<long long>(o.utterances), root.c_str());
    return utterances;
  }
  check_espeak(o.espeak);
  // The old manifest goes first: a crash below must not leave one that
  // vouches for a mix of old and new audio files.
  fs::remove(root / kManifestName);
  fs::remove_all(root / "audio");
  fs::remove_all(root / "tmp");
  for (Split s : {Split::Train, Split::Validation, Split::Test})
    fs::create_directories(root / "audio" / split_name(s));
  fs::create_directories(root / "tmp");
  const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  const auto threads = static_cast<int>(
      std::min<int64_t>(o.threads > 0 ? o.threads : static_cast<int>(hardware), o.utterances));
  SynthesisProgress progress(o.progress, o.utterances);
  utterances = synthesise_all(root, o, threads, progress);
  fs::remove_all(root / "tmp");
  examples::write_file_atomically(root / kManifestName,
                                  manifest_text({o.utterances, o.seed, utterances}, root.string()));
  progress.finish(root.string());
  return utterances;
}

std::vector<Utterance> select(const std::vector<Utterance>& utterances, Split split) {
  std::vector<Utterance> out;
  for (const Utterance& u : utterances)
    if (u.split == split) out.push_back(u);
  return out;
}

}  // namespace speech
