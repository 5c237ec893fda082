// The thread-count setting used from several std::threads at once.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "test_util.h"

using namespace lg;

namespace {

// Runs body on a thread and waits at most `limit`: a body that hangs (inside
// OpenBLAS, where no thread can be cancelled) fails the test and ends the
// binary, instead of hanging the suite.
void within(std::chrono::seconds limit, const std::function<void()>& body) {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::thread runner([&] {
    body();
    std::lock_guard<std::mutex> lock(m);
    done = true;
    cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(m);
  if (!cv.wait_for(lock, limit, [&] { return done; })) {
    std::fprintf(stderr, "hung for %llds: exiting\n", static_cast<long long>(limit.count()));
    std::fflush(stderr);
    std::_Exit(1);
  }
  lock.unlock();
  runner.join();
}

}  // namespace

TEST_CASE("set_num_threads while other threads run matmuls does not deadlock") {
  const int saved = get_num_threads();
  manual_seed(2);
  // 128^3: OpenBLAS threads each product (called outside any OpenMP region).
  Tensor a = randn({128, 128}), b = randn({128, 128});
  const std::vector<float> want = matmul(a, b).to_vector<float>();
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0};
  std::atomic<long> products{0};
  within(std::chrono::seconds(60), [&] {
    std::vector<std::thread> workers;
    for (int w = 0; w < 2; ++w)
      workers.emplace_back([&] {
        while (!stop) {
          if (matmul(a, b).to_vector<float>() != want) ++wrong;
          ++products;
        }
      });
    // Counts above the cores as well: 1..4.
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; std::chrono::steady_clock::now() - start < std::chrono::seconds(4); ++i)
      set_num_threads(1 + i % 4);
    stop = true;
    for (auto& t : workers) t.join();
  });
  set_num_threads(saved);
  CHECK(products.load() > 0);
  CHECK(wrong.load() == 0);
}
