// The manifest of an lg-speech corpus folder, <dir>/manifest.jsonl: a header
// line {"corpus":"lg-speech digits","version":1,"utterances":N,"seed":S},
// then one JSON object per utterance, in index order.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "noise.h"
#include "speakers.h"

namespace speech {

inline constexpr const char* kManifestName = "manifest.jsonl";
inline constexpr const char* kCorpusName = "lg-speech digits";
inline constexpr int kManifestVersion = 1;
// The snr_db of an utterance without noise (null in the manifest).
inline constexpr double kCleanSnrDb = std::numeric_limits<double>::infinity();

struct Utterance {
  std::string path;  // absolute (relative to the manifest's folder in the file)
  std::string transcript, voice, variant;
  Split split = Split::Train;
  int speed = 0, pitch = 0;
  Noise noise = Noise::None;
  double snr_db = kCleanSnrDb;
  double duration_s = 0;
};

struct Manifest {
  int64_t utterances = 0;  // the header's count, which the lines match
  uint64_t seed = 0;
  std::vector<Utterance> items;
};

// The manifest file's text for the utterances, whose paths lie inside dir
// (they are written relative to it).
std::string manifest_text(const Manifest& manifest, const std::string& dir);

// Reads a manifest strictly: throws examples::InputError "<path>:<line>: ..."
// for a line that is not JSON, a wrong header, a missing, unknown or mistyped
// field, a path outside the folder, or a count of lines other than the header's.
Manifest load_manifest(const std::string& path);
// Its utterances.
std::vector<Utterance> read_manifest(const std::string& path);

}  // namespace speech
