#include "manifest.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/files.h"
#include "common/run_lock.h"

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace speech {
namespace {

Json header_json(const Manifest& m) {
  return {{"corpus", kCorpusName},
          {"version", kManifestVersion},
          {"utterances", m.utterances},
          {"seed", m.seed}};
}

Json utterance_json(const Utterance& u, const fs::path& dir) {
  Json snr = std::isfinite(u.snr_db) ? Json(u.snr_db) : Json(nullptr);
  return {{"path", fs::path(u.path).lexically_relative(dir).generic_string()},
          {"transcript", u.transcript},
          {"voice", u.voice},
          {"variant", u.variant},
          {"split", split_name(u.split)},
          {"speed", u.speed},
          {"pitch", u.pitch},
          {"noise", noise_name(u.noise)},
          {"snr_db", snr},
          {"duration_s", u.duration_s}};
}

// Reads one line's fields, each checked for presence and type; the errors
// name the file and line.
class LineReader {
 public:
  LineReader(const std::string& where, const std::string& text) : where_(where) {
    try {
      json_ = Json::parse(text);
    } catch (const Json::parse_error& e) {
      const std::string why = e.what();  // "[json.exception.parse_error.101] parse error at ..."
      const size_t end = why.find("] ");
      fail("not JSON: " + (end == std::string::npos ? why : why.substr(end + 2)));
    }
    if (!json_.is_object()) fail("not a JSON object");
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw examples::InputError(where_ + ": " + what);
  }

  const Json& field(const std::string& key) {
    if (!json_.contains(key)) fail("missing \"" + key + "\"");
    seen_.insert(key);
    return json_[key];
  }
  std::string text(const std::string& key) {
    const Json& v = field(key);
    if (!v.is_string()) fail("\"" + key + "\" is not a string");
    return v.get<std::string>();
  }
  int64_t integer(const std::string& key) {
    const Json& v = field(key);
    if (!v.is_number_integer()) fail("\"" + key + "\" is not an integer");
    if (v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX)
      fail("\"" + key + "\" is too large");
    return v.get<int64_t>();
  }
  int small_integer(const std::string& key, int lo, int hi) {
    const int64_t v = integer(key);
    if (v < lo || v > hi)
      fail("\"" + key + "\" " + std::to_string(v) + " is outside " + std::to_string(lo) + ".." +
           std::to_string(hi));
    return static_cast<int>(v);
  }
  double number(const std::string& key) {
    const Json& v = field(key);
    if (!v.is_number()) fail("\"" + key + "\" is not a number");
    return v.get<double>();
  }
  // No key the reader did not ask for (a misspelt field would go unnoticed).
  void no_other_fields() const {
    for (const auto& [key, value] : json_.items())
      if (!seen_.contains(key)) fail("unknown field \"" + key + "\"");
  }
  const Json& json() const { return json_; }

 private:
  std::string where_;
  Json json_;
  std::set<std::string> seen_;
};

void read_header(LineReader& line, Manifest& m) {
  if (line.text("corpus") != kCorpusName)
    line.fail("not an lg-speech manifest (\"corpus\" is not \"" + std::string(kCorpusName) + "\")");
  if (line.integer("version") != kManifestVersion)
    line.fail("version " + line.json()["version"].dump() + ", this lg-speech reads version " +
              std::to_string(kManifestVersion));
  m.utterances = line.integer("utterances");
  if (m.utterances < 0) line.fail("\"utterances\" is negative");
  const Json& seed = line.field("seed");
  if (!seed.is_number_unsigned()) line.fail("\"seed\" is not a non-negative integer");
  m.seed = seed.get<uint64_t>();
  line.no_other_fields();
}

Utterance read_utterance(LineReader& line, const fs::path& dir) {
  Utterance u;
  const fs::path rel = line.text("path");
  if (rel.empty() || rel.is_absolute()) line.fail("\"path\" is not a relative path");
  for (const fs::path& part : rel)
    if (part == "..") line.fail("\"path\" leaves the manifest's folder");
  u.path = (dir / rel).lexically_normal().string();
  u.transcript = line.text("transcript");
  u.voice = line.text("voice");
  u.variant = line.text("variant");
  const std::string split = line.text("split");
  const auto s = parse_split(split);
  if (!s) line.fail("\"split\" \"" + split + "\" is not train, validation or test");
  u.split = *s;
  u.speed = line.small_integer("speed", 0, 10000);
  u.pitch = line.small_integer("pitch", 0, 99);
  const std::string noise = line.text("noise");
  const auto n = parse_noise(noise);
  if (!n) line.fail("\"noise\" \"" + noise + "\" is not none, white, pink or brown");
  u.noise = *n;
  const Json& snr = line.field("snr_db");
  if (u.noise == Noise::None) {
    if (!snr.is_null()) line.fail("\"snr_db\" is not null for an utterance without noise");
  } else {
    u.snr_db = line.number("snr_db");
  }
  u.duration_s = line.number("duration_s");
  if (!(u.duration_s >= 0)) line.fail("\"duration_s\" is negative");
  line.no_other_fields();
  return u;
}

}  // namespace

std::string manifest_text(const Manifest& m, const std::string& dir) {
  const fs::path base = fs::absolute(dir).lexically_normal();
  std::string text = header_json(m).dump() + "\n";
  for (const Utterance& u : m.items) text += utterance_json(u, base).dump() + "\n";
  return text;
}

Manifest load_manifest(const std::string& path) {
  std::string bytes;
  try {
    bytes = examples::read_input_file("", path);
  } catch (const std::exception& e) {
    throw examples::InputError(e.what());
  }
  const fs::path dir = fs::absolute(path).parent_path();
  Manifest m;
  std::istringstream lines(bytes);
  std::string text;
  int64_t number = 0;
  while (std::getline(lines, text)) {
    LineReader line(path + ":" + std::to_string(++number), text);
    if (number == 1) {
      read_header(line, m);
      m.items.reserve(static_cast<size_t>(std::min<int64_t>(m.utterances, 1 << 20)));
    } else {
      if (number - 1 > m.utterances)
        line.fail("more utterances than the header's " + std::to_string(m.utterances));
      m.items.push_back(read_utterance(line, dir));
    }
  }
  if (number == 0) throw examples::InputError(path + ": empty, no header line");
  if (static_cast<int64_t>(m.items.size()) != m.utterances)
    throw examples::InputError(path + ": " + std::to_string(m.items.size()) +
                               " utterances, the header says " + std::to_string(m.utterances));
  return m;
}

std::vector<Utterance> read_manifest(const std::string& path) { return load_manifest(path).items; }

}  // namespace speech
