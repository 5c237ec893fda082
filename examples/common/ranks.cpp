#include "common/ranks.h"

#include <lasergrad/distributed/distributed.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <thread>

namespace examples {

void join_ranks() {
  lg::distributed::init();
  if (lg::distributed::rank() != 0 && std::freopen("/dev/null", "w", stdout) == nullptr)
    std::fprintf(stderr, "rank %d: cannot silence stdout\n", lg::distributed::rank());
}

int rank() { return lg::distributed::rank(); }
int world_size() { return lg::distributed::world_size(); }

int exit_after_error(const std::string& program, const std::string& message, int code) {
  std::fflush(stdout);
  if (world_size() > 1) lg::distributed::abort(code, program + ": " + message);
  std::fprintf(stderr, "%s: %s\n", program.c_str(), message.c_str());
  return code;
}

std::string per_rank_words() { return world_size() > 1 ? " per rank" : ""; }

std::string ranks_words() {
  return world_size() > 1 ? " each, " + std::to_string(world_size()) + " ranks" : "";
}

int default_threads() {
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  int local = 1;
  if (const char* n = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE")) local = std::max(1, std::atoi(n));
  return std::max(1, cores / local);
}

uint64_t rank_seed(uint64_t seed, int r) {
  if (r == 0) return seed;
  uint64_t x = seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(r);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

Share share_of(int64_t n, int rank, int world) {
  const int64_t w = world, r = rank, base = n / w, extra = n % w;
  const int64_t begin = r * base + std::min(r, extra);
  return {.begin = begin, .end = begin + base + (r < extra ? 1 : 0)};
}

void in_rank_order(const std::function<void()>& f) {
  if (world_size() == 1) return f();
  std::exception_ptr error;
  for (int turn = 0; turn < world_size(); ++turn) {
    if (turn == rank()) {
      try {
        f();
      } catch (...) {
        error = std::current_exception();
      }
    }
    lg::distributed::barrier();
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace examples
