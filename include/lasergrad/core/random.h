// The global random-number state. Draws are counter-based (Philox4x32-10): a
// tensor of n values takes n counters from the state, so a seed fixes every
// draw regardless of thread count or device.
#pragma once
#include <cstdint>

namespace lg {

struct RngState {
  uint64_t seed = 0;
  uint64_t offset = 0;  // counters used so far
  bool operator==(const RngState& o) const { return seed == o.seed && offset == o.offset; }
};

void manual_seed(uint64_t seed);
RngState get_rng_state();
void set_rng_state(const RngState& state);
// Reserves n counters; returns the state to draw them from.
RngState reserve_random(uint64_t n);

}  // namespace lg
