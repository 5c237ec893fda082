#include "distributed/wait.h"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <thread>

#include "lasergrad/distributed/distributed.h"

namespace lg::distributed::detail {

double wait_until(const std::function<bool()>& done, const std::string& what) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto limit = std::chrono::duration<double>(timeout_seconds());
  constexpr int kSpins = 2000;
  auto nap = std::chrono::microseconds(10);
  for (int polls = 0; !done(); ++polls) {
    if (Clock::now() - start > limit) {
      std::ostringstream why;
      why << what << " timed out after " << timeout_seconds()
          << " s waiting for the other ranks (a rank skipped this collective, is stuck before "
             "it or died; LG_DISTRIBUTED_TIMEOUT sets the bound)";
      abort(1, why.str());
    }
    if (polls < kSpins) continue;
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::microseconds(1000));
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace lg::distributed::detail
