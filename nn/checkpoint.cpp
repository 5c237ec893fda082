#include <lasergrad/nn/checkpoint.h>
#include <lasergrad/nn/safetensors.h>

#include <charconv>
#include <type_traits>

namespace lg {
namespace {

const std::string kModelPrefix = "model.", kOptimizerPrefix = "optimizer.",
                  kConfigPrefix = "config.";

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// Exact decimal parsing: the whole string, no sign for unsigned values, no
// range overflow (strtoull would accept " -1" as 2^64 - 1).
template <typename T>
T parse_decimal(const std::string& where, const Metadata& meta, const std::string& key) {
  auto it = meta.find(key);
  LG_CHECK(it != meta.end(), where, ": the metadata lacks '", key, "'");
  const std::string& s = it->second;
  T value{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  LG_CHECK(!s.empty() && ec == std::errc() && end == s.data() + s.size(), where, ": metadata '",
           key, "' = '", s, "' is not a decimal ", sizeof(T) * 8, "-bit ",
           std::is_signed_v<T> ? "signed" : "unsigned", " integer");
  return value;
}

}  // namespace

void save_checkpoint(const std::string& path, const TrainingCheckpoint& checkpoint) {
  LG_CHECK(checkpoint.step >= 0, "save_checkpoint: step ", checkpoint.step, " is negative");
  StateDict tensors;
  for (const auto& [name, t] : checkpoint.model) tensors.emplace(kModelPrefix + name, t);
  for (const auto& [name, t] : checkpoint.optimizer) tensors.emplace(kOptimizerPrefix + name, t);
  Metadata meta{{"format", kCheckpointFormat},
                {"step", std::to_string(checkpoint.step)},
                {"rng.seed", std::to_string(checkpoint.rng.seed)},
                {"rng.offset", std::to_string(checkpoint.rng.offset)}};
  for (const auto& [key, value] : checkpoint.config) meta.emplace(kConfigPrefix + key, value);
  // Tensors shared between the model and the optimizer, or tied within the
  // model, are stored once (safetensors aliases) and come back shared.
  detail::write_safetensors_file("save_checkpoint", path, tensors, meta);
}

namespace {
TrainingCheckpoint checkpoint_from(const std::string& where, const SafetensorsFile& file) {
  const Metadata& meta = file.metadata;
  auto format = meta.find("format");
  LG_CHECK(format != meta.end(), where,
           ": not a lasergrad checkpoint (no 'format' metadata; a plain state_dict file loads "
           "with load_safetensors)");
  LG_CHECK(format->second == kCheckpointFormat, where, ": unsupported checkpoint format '",
           format->second, "' (this build reads '", kCheckpointFormat, "')");

  TrainingCheckpoint ck;
  ck.step = parse_decimal<int64_t>(where, meta, "step");
  LG_CHECK(ck.step >= 0, where, ": step ", ck.step, " is negative");
  ck.rng.seed = parse_decimal<uint64_t>(where, meta, "rng.seed");
  ck.rng.offset = parse_decimal<uint64_t>(where, meta, "rng.offset");
  for (const auto& [key, value] : meta) {
    if (starts_with(key, kConfigPrefix)) {
      ck.config.emplace(key.substr(kConfigPrefix.size()), value);
    } else {
      LG_CHECK(key == "format" || key == "step" || key == "rng.seed" || key == "rng.offset", where,
               ": unknown metadata key '", key, "' (a v1 checkpoint has format, step, ",
               "rng.seed, rng.offset and config.*)");
    }
  }
  for (const auto& [name, t] : file.tensors) {
    if (starts_with(name, kModelPrefix)) {
      ck.model.emplace(name.substr(kModelPrefix.size()), t);
    } else {
      LG_CHECK(starts_with(name, kOptimizerPrefix), where, ": tensor '", name,
               "' is neither 'model.*' nor 'optimizer.*'");
      ck.optimizer.emplace(name.substr(kOptimizerPrefix.size()), t);
    }
  }
  return ck;
}

}  // namespace

TrainingCheckpoint load_checkpoint(const std::string& path) {
  return checkpoint_from("load_checkpoint: '" + path + "'",
                         detail::read_safetensors_file("load_checkpoint", path));
}

TrainingCheckpoint parse_checkpoint(const std::string& bytes, const std::string& name) {
  const std::string where = "parse_checkpoint: '" + name + "'";
  SafetensorsFile file;
  try {
    file = parse_safetensors(bytes.data(), bytes.size());
  } catch (const Error& e) {
    detail::fail(where, ": ", e.what());
  }
  return checkpoint_from(where, file);
}

}  // namespace lg
