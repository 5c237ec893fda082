// What docs/threads.md documents as safe to use from several threads at once,
// run from several std::threads: ops and backward on distinct tensors, graphs
// that end in one shared leaf, the RNG, the caching allocator, in-place writes
// to disjoint views of one storage, grad mode (per thread), anomaly mode
// (process-wide) and reads of the kernel tables and op registry; and the
// start-up-only tables refusing late writers. Built under ThreadSanitizer
// too (with OMP_NUM_THREADS=1: libgomp is not instrumented and gives false
// positives).
#include <functional>
#include <latch>
#include <thread>

#include "core/kernels.h"
#include "test_util.h"
#include "testing/registry.h"

using namespace lg;

namespace {

constexpr int kThreads = 4;

// Runs body(i) on kThreads threads that start together; rethrows the first
// exception on the calling thread, so doctest sees failures from any thread.
void run_concurrently(const std::function<void(int)>& body) {
  std::latch start(kThreads);
  std::vector<std::exception_ptr> errors(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      try {
        body(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

// Integer-valued floats, so that every sum below is exact in any order.
Tensor integer_valued(const Shape& shape, double first, TensorOptions options = {}) {
  Tensor t = arange(0, static_cast<double>(shape_numel(shape)), 1, {.dtype = options.dtype});
  t = t.reshape(shape);
  return (t + first).detach().requires_grad_(options.requires_grad);
}

}  // namespace

TEST_CASE("ops and backward on distinct tensors run from several threads") {
  std::vector<std::vector<double>> grads(kThreads);
  run_concurrently([&](int i) {
    Tensor x = integer_valued({8, 16}, i, {.requires_grad = true});
    Tensor w = integer_valued({16, 4}, -i);
    Tensor y = sum(relu(matmul(x, w)) * 2.0);
    y.backward();
    grads[i] = x.grad().to_vector<double>();
  });
  for (int i = 0; i < kThreads; ++i) {
    Tensor x = integer_valued({8, 16}, i, {.requires_grad = true});
    sum(relu(matmul(x, integer_valued({16, 4}, -i))) * 2.0).backward();
    CHECK(grads[i] == x.grad().to_vector<double>());
  }
}

TEST_CASE("graphs backwarded from several threads into one shared leaf accumulate exactly") {
  constexpr int kRounds = 50;
  for (bool create_graph : {false, true}) {
    INFO("create_graph=" << create_graph);
    Tensor w = zeros({1 << 16}, {.requires_grad = true});
    run_concurrently([&](int i) {
      Tensor x = full({1 << 16}, i + 1.0);
      for (int r = 0; r < kRounds; ++r) (w * x).sum().backward({}, false, create_graph);
    });
    // Each thread adds x_i = i + 1 per round: sum over threads of (i + 1) * rounds.
    const double want = kRounds * kThreads * (kThreads + 1) / 2.0;
    CHECK(w.grad().max().item<double>() == want);
    CHECK((-w.grad()).max().item<double>() == -want);
  }
}

TEST_CASE("the RNG gives each draw its own counters when several threads draw") {
  manual_seed(11);
  const uint64_t before = get_rng_state().offset;
  constexpr int kDraws = 20, kSize = 1001;  // 1001 values take 1004 counters
  std::vector<std::vector<double>> firsts(kThreads);
  run_concurrently([&](int i) {
    for (int d = 0; d < kDraws; ++d) firsts[i].push_back(randn({kSize}).to_vector<double>()[0]);
  });
  CHECK(get_rng_state().offset - before == uint64_t{kThreads} * kDraws * 1004);
  std::vector<double> all;
  for (const auto& f : firsts) all.insert(all.end(), f.begin(), f.end());
  std::sort(all.begin(), all.end());
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());  // no draw repeated
}

TEST_CASE("the caching allocator serves several threads without handing out a block twice") {
  empty_cache();
  const size_t baseline = memory_allocated();
  run_concurrently([](int i) {
    for (int r = 0; r < 30; ++r) {
      // 256 KiB and up: the sizes the allocator caches, shared between threads.
      Tensor t = full({65536 + 1024 * (r % 3)}, static_cast<double>(i));
      Tensor s = sum(t);
      REQUIRE(s.item<double>() == static_cast<double>(i) * t.numel());
    }
  });
  CHECK(memory_allocated() == baseline);
}

TEST_CASE("in-place writes to disjoint views of one storage each bump its version") {
  constexpr int kRounds = 100, kLen = 64;
  Tensor buffer = zeros({kThreads * kLen});
  const uint64_t before = buffer.version();
  run_concurrently([&](int i) {
    Tensor mine = buffer.slice(0, i * kLen, (i + 1) * kLen);
    for (int r = 0; r < kRounds; ++r) mine.add_(1.0);
  });
  CHECK(buffer.version() - before == uint64_t{kThreads} * kRounds);
  CHECK(buffer.to_vector<double>() == std::vector<double>(kThreads * kLen, kRounds));
}

TEST_CASE("grad mode is per thread: a NoGradGuard in one thread leaves the others recording") {
  std::latch guards_on(kThreads);
  std::vector<int> recorded(kThreads);
  run_concurrently([&](int i) {
    std::optional<NoGradGuard> guard;
    if (i % 2 == 0) guard.emplace();
    guards_on.arrive_and_wait();  // every guard is set before any thread records
    Tensor x = ones({2}, {.requires_grad = true});
    recorded[i] = (x * 2.0).requires_grad();
  });
  CHECK(recorded == std::vector<int>{0, 1, 0, 1});
}

TEST_CASE("anomaly mode is process-wide: set before the threads start, each backward checks") {
  detect_anomaly(true);
  std::vector<int> caught(kThreads);
  run_concurrently([&](int i) {
    Tensor x = zeros({3}, {.requires_grad = true});
    try {
      sum(sqrt(x)).backward();  // d sqrt(x)/dx at 0 is inf
    } catch (const Error& e) {
      caught[i] = std::string(e.what()).find("detect_anomaly") != std::string::npos;
    }
  });
  detect_anomaly(false);
  CHECK(caught == std::vector<int>(kThreads, 1));
}

TEST_CASE("the op registry and kernel tables are read from several threads") {
  const size_t count = op_registry().size();
  run_concurrently([&](int) {
    for (const OpInfo* op : op_registry()) REQUIRE(find_op(op->name) == op);
    REQUIRE(op_registry().size() == count);
    REQUIRE((kernel_table(Device::cpu(), kFloat32).matmul != nullptr));
  });
}

TEST_CASE("kernel tables and allocators refuse writers once the library is in use") {
  (void)zeros({1});  // the library has started
  // Re-registering what is there already: harmless if it were accepted.
  KernelTable same = kernel_table(Device::cpu(), kFloat32);
  CHECK_ERROR(register_kernels(DeviceType::CPU, kFloat32, same), "register_kernels",
              "kernel tables", "start-up");
  CHECK_ERROR(register_device_kernels(DeviceType::CPU, device_kernels(Device::cpu())),
              "register_device_kernels", "start-up");
  CHECK_ERROR(register_allocator(DeviceType::CPU, allocator_for(Device::cpu())),
              "register_allocator", "allocators", "start-up");
}
