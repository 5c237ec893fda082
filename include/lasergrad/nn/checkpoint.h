// A training checkpoint (model, optimizer state, step, RNG state, config) in
// one safetensors file, written atomically, so that a run resumes exactly
// where it stopped and a crash during a save never loses the previous one.
//
// Layout (docs/checkpoints.md): tensors "model.<name>" and
// "optimizer.<name>"; metadata "format" = "lasergrad.checkpoint.v1", "step",
// "rng.seed", "rng.offset" (decimal strings, exact for 64-bit values) and
// "config.<key>" for each config entry.
#pragma once
#include <cstdint>
#include <string>

#include "../core/random.h"
#include "state_dict.h"

namespace lg {

inline constexpr const char* kCheckpointFormat = "lasergrad.checkpoint.v1";

struct TrainingCheckpoint {
  StateDict model;
  StateDict optimizer;  // opaque: whatever the optimizer's state_dict() holds
  int64_t step = 0;
  RngState rng = {};
  Metadata config = {};  // e.g. the trainer's flags, to check on resume
};

void save_checkpoint(const std::string& path, const TrainingCheckpoint& checkpoint);
// Throws lg::Error naming the path when the file is not a valid safetensors
// file, lacks the format marker, or holds a malformed number or unknown entry.
TrainingCheckpoint load_checkpoint(const std::string& path);
// The same from a checkpoint file's bytes (e.g. read by one process and sent
// to others); `name` says where they came from in error messages.
TrainingCheckpoint parse_checkpoint(const std::string& bytes, const std::string& name);

}  // namespace lg
