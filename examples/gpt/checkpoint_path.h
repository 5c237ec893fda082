// Where lg-gpt keeps its checkpoint inside --out.
#pragma once
#include <filesystem>
#include <string>

namespace gpt {

inline std::filesystem::path checkpoint_path(const std::string& out_dir) {
  return std::filesystem::path(out_dir) / "checkpoint.safetensors";
}

}  // namespace gpt
