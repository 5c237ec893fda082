#include "train_config.h"

#include <charconv>
#include <cstdlib>
#include <stdexcept>

#include "cli.h"

namespace gpt {
namespace {

// The shortest text that reads back as x (0.15, not 0.14999999999999999).
std::string shortest_text(double x) {
  char text[32];
  const auto result = std::to_chars(text, text + sizeof text, x);
  return std::string(text, result.ptr);
}

int get_int(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) throw std::runtime_error("checkpoint metadata has no \"" + key + "\"");
  try {
    size_t used = 0;
    const int v = std::stoi(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (const std::logic_error&) {
  }
  throw std::runtime_error("checkpoint metadata \"" + key + "\" is not an integer: " + it->second);
}

uint64_t get_uint64(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) throw std::runtime_error("checkpoint metadata has no \"" + key + "\"");
  const std::string& text = it->second;
  // stoull alone accepts "-1" (wrapped) and leading spaces, and says only "stoull".
  const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  try {
    if (digits) return std::stoull(text);
  } catch (const std::logic_error&) {
  }
  throw std::runtime_error("checkpoint metadata \"" + key +
                           "\" is not an unsigned 64-bit integer: \"" + text + "\"");
}

const std::string& get(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) throw std::runtime_error("checkpoint metadata has no \"" + key + "\"");
  return it->second;
}

// The checkpoint's model settings (and its seed, with_seed) in place of
// config's, after checking that no flag in config.given says otherwise; mode
// ("--resume", "--sample") starts the message, which ends with remedy.
void apply_saved_settings(TrainConfig& config, const std::map<std::string, std::string>& m,
                          const std::string& mode, bool with_seed, const std::string& remedy) {
  TrainConfig saved = config;
  saved.apply_model_metadata(m);
  if (with_seed) saved.seed = get_uint64(m, "gpt.seed");
  std::string conflicts;
  auto check = [&](const std::string& flag, const std::string& mine, const std::string& theirs) {
    if (config.given.count(flag) == 0 || mine == theirs) return;
    conflicts +=
        (conflicts.empty() ? "" : ", ") + flag + " " + mine + " (the checkpoint's: " + theirs + ")";
  };
  check("--objective", config.objective, saved.objective);
  if (with_seed)
    check("--mask-prob", shortest_text(config.mask_prob),
          shortest_text(saved.mask_prob));
  check("--attention", config.attention, saved.attention);
  check("--layers", std::to_string(config.layers), std::to_string(saved.layers));
  check("--d-model", std::to_string(config.d_model), std::to_string(saved.d_model));
  check("--heads", std::to_string(config.heads), std::to_string(saved.heads));
  check("--seq-len", std::to_string(config.seq_len), std::to_string(saved.seq_len));
  if (with_seed) check("--seed", std::to_string(config.seed), std::to_string(saved.seed));
  if (!conflicts.empty())
    throw UsageError(mode + ": the checkpoint was trained with other settings: " + conflicts +
                     "; drop these flags, or " + remedy);
  config = std::move(saved);
}

}  // namespace

void TrainConfig::apply_resume_metadata(const std::map<std::string, std::string>& m) {
  apply_saved_settings(*this, m, "--resume", true, "train into another --out");
}

void TrainConfig::apply_sample_metadata(const std::map<std::string, std::string>& m,
                                        const std::string& mode) {
  apply_saved_settings(*this, m, mode, false,
                       mode == "--fill" ? "fill from another --out" : "sample from another --out");
}

void check_resume_text(const std::map<std::string, std::string>& m, const std::string& source,
                       const std::string& hash, int64_t chars) {
  auto it = m.find("gpt.text_hash");
  const bool same =
      it != m.end() ? it->second == hash : get(m, "gpt.text_chars") == std::to_string(chars);
  if (same) return;
  const std::string theirs = it != m.end() ? it->second : get(m, "gpt.text_chars") + " characters";
  throw UsageError("--resume: " + source + " (" + hash + ", " + std::to_string(chars) +
                   " characters) is not the text the checkpoint was trained on (" +
                   get(m, "gpt.text") + ", " + theirs + ")");
}

std::map<std::string, std::string> TrainConfig::model_metadata() const {
  return {{"gpt.objective", objective},
          {"gpt.mask_prob", shortest_text(mask_prob)},
          {"gpt.attention", attention},
          {"gpt.layers", std::to_string(layers)},
          {"gpt.d_model", std::to_string(d_model)},
          {"gpt.heads", std::to_string(heads)},
          {"gpt.seq_len", std::to_string(seq_len)}};
}

void TrainConfig::apply_model_metadata(const std::map<std::string, std::string>& m) {
  auto it = m.find("gpt.attention");
  if (it == m.end()) throw std::runtime_error("checkpoint metadata has no \"gpt.attention\"");
  if (it->second != "laser" && it->second != "softmax")
    throw std::runtime_error(
        "checkpoint metadata \"gpt.attention\" is neither laser nor softmax: " + it->second);
  attention = it->second;
  // Checkpoints from before masked language modelling are causal.
  const auto objective_entry = m.find("gpt.objective");
  objective = objective_entry == m.end() ? "clm" : objective_entry->second;
  if (objective != "clm" && objective != "mlm")
    throw std::runtime_error("checkpoint metadata \"gpt.objective\" is neither clm nor mlm: " +
                             objective);
  if (const auto p = m.find("gpt.mask_prob"); p != m.end()) {
    char* end = nullptr;
    mask_prob = std::strtod(p->second.c_str(), &end);
    if (end == p->second.c_str() || *end != '\0' || !(mask_prob > 0 && mask_prob < 1))
      throw std::runtime_error("checkpoint metadata \"gpt.mask_prob\" is not in (0, 1): " +
                               p->second);
  }
  layers = get_int(m, "gpt.layers");
  d_model = get_int(m, "gpt.d_model");
  heads = get_int(m, "gpt.heads");
  seq_len = get_int(m, "gpt.seq_len");
  if (layers < 1 || d_model < 1 || heads < 1 || seq_len < 1 || d_model % heads != 0)
    throw std::runtime_error("checkpoint metadata describes an impossible model");
}

}  // namespace gpt
