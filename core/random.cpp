#include <lasergrad/core/random.h>

#include <mutex>

namespace lg {
namespace {
std::mutex rng_mutex;
RngState rng_state{5489, 0};
}  // namespace

void manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(rng_mutex);
  rng_state = {seed, 0};
}

RngState get_rng_state() {
  std::lock_guard<std::mutex> lock(rng_mutex);
  return rng_state;
}

void set_rng_state(const RngState& state) {
  std::lock_guard<std::mutex> lock(rng_mutex);
  rng_state = state;
}

RngState reserve_random(uint64_t n) {
  std::lock_guard<std::mutex> lock(rng_mutex);
  RngState s = rng_state;
  rng_state.offset += (n + 3) / 4 * 4;  // whole Philox blocks
  return s;
}

}  // namespace lg
