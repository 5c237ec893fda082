// The CPU backend's parallel_for / parallel_region: an exception thrown by
// any worker reaches the caller (an exception leaving an OpenMP region would
// terminate the process), the team still joins, and kernels built on the
// helpers give the same answer at any thread count.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>
#include <omp.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "backends/cpu/parallel.h"
#include "test_util.h"

using namespace lg;

namespace {

// While set, every operator new called inside an OpenMP parallel region
// throws std::bad_alloc: the scratch a kernel allocates in its region.
std::atomic<bool> fail_allocations_in_parallel{false};

struct FailAllocationsInParallel {
  FailAllocationsInParallel() { fail_allocations_in_parallel = true; }
  ~FailAllocationsInParallel() { fail_allocations_in_parallel = false; }
};

// Restores the thread count a test changed.
struct Threads {
  int saved = get_num_threads();
  explicit Threads(int n) { set_num_threads(n); }
  ~Threads() { set_num_threads(saved); }
};

}  // namespace

void* operator new(std::size_t n) {
  if (fail_allocations_in_parallel.load(std::memory_order_relaxed) && omp_in_parallel())
    throw std::bad_alloc();
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

TEST_CASE("parallel_for: an lg::Error thrown in one iteration reaches the caller") {
  for (int threads : {1, 2}) {
    Threads t(threads);
    for (cpu::Schedule schedule : {cpu::Schedule::Static, cpu::Schedule::Dynamic}) {
      CAPTURE(threads);
      std::atomic<int64_t> ran{0};
      auto throw_at_777 = [&](int64_t i) {
        ++ran;
        LG_CHECK(i != 777, "kernel: iteration ", i, " failed");
      };
      CHECK_ERROR(cpu::parallel_for(0, 1000, 1, throw_at_777, schedule), "kernel", "777");
      CHECK(ran.load() <= 1000);
    }
  }
}

TEST_CASE("parallel_for runs every iteration once, on a team when asked") {
  Threads t(2);
  std::vector<int> hits(10000, 0);
  std::atomic<int> team{0};
  cpu::parallel_for(0, 10000, 1, [&](int64_t i) {
    ++hits[i];
    if (i == 0) team = omp_get_num_threads();
  });
  CHECK(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }));
  CHECK(team.load() == 2);
  // Below the grain: on the caller, no team.
  cpu::parallel_for(0, 100, 101, [&](int64_t i) {
    if (i == 0) team = omp_get_num_threads();
  });
  CHECK(team.load() == 1);
  CHECK(cpu::grain_for(1000) == 33);  // 33 * 1000 >= 32768 > 32 * 1000
  CHECK(cpu::grain_for(1 << 20) == 1);
}

TEST_CASE("parallel_region: a throw in the first shared loop still lets the team join") {
  // (A deadlock here would hang the binary: the thrower must reach the barrier.)
  Threads t(2);
  std::atomic<int> second{0};
  auto region = [&](cpu::Worker& w) {
    w.for_each(0, 64, cpu::Schedule::Static,
               [](int64_t i) { LG_CHECK(i != 3, "first loop: iteration ", i); });
    w.barrier();  // reached by the worker that threw as well
    w.for_each(0, 64, cpu::Schedule::Dynamic, [&](int64_t) { ++second; });
  };
  CHECK_ERROR(cpu::parallel_region(2, region), "first loop", "3");
  // A nested parallel_for runs serially inside the outer team's worker.
  std::atomic<int> nested_teams{0};
  cpu::parallel_for(0, 2, 1, [&](int64_t) {
    cpu::parallel_for(0, 100, 1, [&](int64_t i) {
      if (i == 0 && omp_get_num_threads() > 1 && omp_get_level() > 1) ++nested_teams;
    });
  });
  CHECK(nested_teams.load() == 0);
}

TEST_CASE("bad_alloc inside the attention kernels' parallel regions reaches the caller") {
  Threads t(2);
  manual_seed(3);
  // 2 x 2 slices of 128 queries: several tiles, so the kernels fork a team.
  Tensor q = randn({2, 2, 128, 16}).requires_grad_();
  Tensor k = randn({2, 2, 128, 16}), v = randn({2, 2, 128, 16});
  for (bool laser : {false, true}) {
    CAPTURE(laser);
    auto attend = [&] {
      return laser ? laser_attention(q, k, v) : scaled_dot_product_attention(q, k, v);
    };
    {
      FailAllocationsInParallel fail;
      CHECK_THROWS_AS(attend(), std::bad_alloc);
    }
    Tensor loss = sum(attend());
    {
      FailAllocationsInParallel fail;
      CHECK_THROWS_AS(loss.backward(), std::bad_alloc);
    }
  }
  // Nothing is left broken: the same calls succeed afterwards.
  Tensor y = laser_attention(q, k, v);
  sum(y).backward();
  CHECK(q.grad().defined());
}

TEST_CASE("reductions give identical results at 1 and 2 threads") {
  manual_seed(11);
  // Large enough that every kernel forks a team at 2 threads.
  Tensor x = randn({37, 1000, 29}, {.dtype = kFloat64});
  Tensor xf = randn({64, 4096});
  auto results = [&] {
    return std::vector<std::vector<double>>{
        sum(x, std::vector<int64_t>{0, 2}).to_vector<double>(),   // around the kept dim
        sum(x, std::vector<int64_t>{1}).to_vector<double>(),      // generic
        sum(x, std::vector<int64_t>{0}).to_vector<double>(),      // leading
        sum(x, std::vector<int64_t>{2}).to_vector<double>(),      // trailing
        max(x.transpose(0, 2), 1).to_vector<double>(),            // strided
        sum(xf, std::vector<int64_t>{0, 1}).to_vector<double>(),  // float
        cumsum(x, 1).to_vector<double>(),
        argmax(x, 1).to_vector<double>(),
    };
  };
  std::vector<std::vector<double>> one, two;
  {
    Threads t(1);
    one = results();
  }
  {
    Threads t(2);
    two = results();
  }
  REQUIRE(one.size() == two.size());
  for (size_t i = 0; i < one.size(); ++i) {
    CAPTURE(i);
    CHECK(one[i] == two[i]);
  }
}
