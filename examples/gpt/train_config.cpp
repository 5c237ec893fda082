#include "train_config.h"

#include <stdexcept>

namespace gpt {
namespace {

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

}  // namespace

std::map<std::string, std::string> TrainConfig::model_metadata() const {
  return {{"gpt.attention", attention},
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
  layers = get_int(m, "gpt.layers");
  d_model = get_int(m, "gpt.d_model");
  heads = get_int(m, "gpt.heads");
  seq_len = get_int(m, "gpt.seq_len");
  if (layers < 1 || d_model < 1 || heads < 1 || seq_len < 1 || d_model % heads != 0)
    throw std::runtime_error("checkpoint metadata describes an impossible model");
}

}  // namespace gpt
