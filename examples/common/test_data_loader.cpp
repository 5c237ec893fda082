// The data loader: the order of an epoch fixed by (seed, epoch), resuming at
// any step, make's errors at the step that failed, and a destructor that
// returns whatever the worker is doing.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <thread>

#include "common/data_loader.h"
#include "tests/test_util.h"

using examples::BatchRequest;
using examples::DataLoader;
using examples::LoaderOptions;

namespace {

LoaderOptions options(int64_t n, int64_t batch, uint64_t seed = 7, int64_t start = 0) {
  LoaderOptions o;
  o.num_samples = n;
  o.batch_size = batch;
  o.seed = seed;
  o.start_step = start;
  return o;
}

BatchRequest echo(const BatchRequest& r) { return r; }

// The sample indices of steps [start, start + count) drawn through a loader.
std::vector<std::vector<int64_t>> draw(const LoaderOptions& o, int64_t count) {
  DataLoader<BatchRequest> loader(o, echo);
  std::vector<std::vector<int64_t>> batches;
  for (int64_t i = 0; i < count; ++i) {
    CHECK(loader.step() == o.start_step + i);
    BatchRequest r = loader.next();
    CHECK(r.step == o.start_step + i);
    CHECK(r.epoch == r.step / loader.steps_per_epoch());
    CHECK(r.index_in_epoch == r.step % loader.steps_per_epoch());
    CHECK(r.seed == o.seed);
    batches.push_back(r.sample_indices);
  }
  return batches;
}

bool is_permutation_of_range(std::vector<int64_t> v, int64_t n) {
  std::sort(v.begin(), v.end());
  for (int64_t i = 0; i < n; ++i)
    if (v[static_cast<size_t>(i)] != i) return false;
  return static_cast<int64_t>(v.size()) == n;
}

}  // namespace

TEST_CASE("an epoch's order is a permutation fixed by the seed and the epoch") {
  const auto a = examples::epoch_order(100, 1, 0, true);
  CHECK(is_permutation_of_range(a, 100));
  CHECK(a == examples::epoch_order(100, 1, 0, true));
  CHECK(a != examples::epoch_order(100, 2, 0, true));
  CHECK(a != examples::epoch_order(100, 1, 1, true));
  CHECK(is_permutation_of_range(examples::epoch_order(100, 1, 1, true), 100));
  std::vector<int64_t> identity(100);
  for (int64_t i = 0; i < 100; ++i) identity[static_cast<size_t>(i)] = i;
  CHECK(a != identity);
  CHECK(examples::epoch_order(100, 1, 3, false) == identity);
  CHECK(examples::epoch_order(1, 5, 0, true) == std::vector<int64_t>{0});
}

TEST_CASE("each epoch's batches cover distinct samples, in the epoch's order") {
  const LoaderOptions o = options(10, 3);
  const auto batches = draw(o, 9);  // 3 full batches per epoch; sample 10 is dropped
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    const auto order = examples::epoch_order(10, o.seed, epoch, true);
    std::vector<int64_t> seen;
    for (int64_t b = 0; b < 3; ++b) {
      const auto& batch = batches[static_cast<size_t>(epoch * 3 + b)];
      CHECK(batch.size() == 3);
      CHECK(std::equal(batch.begin(), batch.end(), order.begin() + b * 3));
      seen.insert(seen.end(), batch.begin(), batch.end());
    }
    CHECK(std::set<int64_t>(seen.begin(), seen.end()).size() == 9);
  }
  CHECK(batches[0] != batches[3]);  // another epoch, another order
}

TEST_CASE("without drop_last the last batch is short and an epoch covers every sample") {
  LoaderOptions o = options(10, 4);
  o.drop_last = false;
  o.shuffle = false;
  o.stop_step = 3;
  const auto batches = draw(o, 3);
  CHECK(batches[0] == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(batches[1] == std::vector<int64_t>{4, 5, 6, 7});
  CHECK(batches[2] == std::vector<int64_t>{8, 9});
}

TEST_CASE("a loader started at step k gives the tail of a run from step 0") {
  const auto full = draw(options(11, 2, 3), 17);
  for (int64_t k : {1, 4, 5, 9}) {
    const auto tail = draw(options(11, 2, 3, k), 17 - k);
    CHECK(tail == std::vector<std::vector<int64_t>>(full.begin() + k, full.end()));
  }
  CHECK(examples::batch_request(options(11, 2, 3), 12).sample_indices == full[12]);
}

TEST_CASE("the batches do not depend on how fast the caller takes them") {
  LoaderOptions o = options(9, 2, 11);
  DataLoader<BatchRequest> loader(o, echo);
  for (int64_t step = 0; step < 8; ++step) {
    if (step % 3 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    CHECK(loader.next().sample_indices == examples::batch_request(o, step).sample_indices);
  }
}

TEST_CASE("an error in make at batch k is rethrown by the k-th next(), not earlier") {
  std::atomic<int> built{0};
  std::promise<void> failing;
  DataLoader<int64_t> loader(options(20, 2), [&](const BatchRequest& r) {
    ++built;
    if (r.step == 3) {
      failing.set_value();
      throw std::runtime_error("bad sample in batch 3");
    }
    return r.step;
  });
  CHECK(loader.next() == 0);
  CHECK(loader.next() == 1);
  // Let the worker fail while batch 2 still waits in the queue: the error must stay behind it.
  failing.get_future().wait();
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(loader.next() == 2);
  CHECK(error_of([&] { loader.next(); }) == "bad sample in batch 3");
  CHECK(built == 4);  // the worker stopped at the failure
  // The worker is gone: next() says so instead of waiting for it.
  CHECK(error_of([&] { loader.next(); }) == "data loader: the worker stopped before step 4");
}

TEST_CASE("an error in the very first batch is rethrown, and the destructor returns") {
  DataLoader<int> loader(options(4, 2), [](const BatchRequest&) -> int {
    throw std::invalid_argument("cannot read image 0");
  });
  CHECK(error_of([&] { loader.next(); }) == "cannot read image 0");
}

TEST_CASE("the loader stops at stop_step and next() there is an error") {
  std::atomic<int> built{0};
  LoaderOptions o = options(8, 2, 1, 2);
  o.stop_step = 4;
  {
    DataLoader<int64_t> loader(o, [&](const BatchRequest& r) {
      ++built;
      return r.step;
    });
    CHECK(loader.next() == 2);
    CHECK(loader.next() == 3);
    CHECK(error_of([&] { loader.next(); }) == "data loader: next() at step 4, the stop step");
  }
  CHECK(built == 2);
}

TEST_CASE("destroying a loader right after construction returns") {
  for (int i = 0; i < 50; ++i) DataLoader<BatchRequest> loader(options(100, 10), echo);
}

TEST_CASE("destroying a loader whose worker waits for room returns") {
  std::atomic<int> built{0};
  std::promise<void> full;
  {
    DataLoader<int64_t> loader(options(100, 1), [&](const BatchRequest& r) {
      if (++built == static_cast<int>(DataLoader<int64_t>::kDepth)) full.set_value();
      return r.step;
    });
    full.get_future().wait();  // the queue is full: the worker now waits for room
  }
  CHECK(built == static_cast<int>(DataLoader<int64_t>::kDepth));
}

TEST_CASE("destroying a loader while make builds a batch waits for that batch only") {
  std::atomic<int> built{0};
  std::atomic<bool> release{false};
  std::promise<void> started;
  std::thread releaser;
  {
    DataLoader<int64_t> loader(options(100, 1), [&](const BatchRequest& r) {
      if (++built == 1) {
        started.set_value();
        while (!release) std::this_thread::yield();
      }
      return r.step;
    });
    started.get_future().wait();
    releaser = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      release = true;
    });
  }
  releaser.join();
  CHECK(built == 1);
}

TEST_CASE("batches of a move-only type") {
  DataLoader<std::unique_ptr<int64_t>> loader(
      options(5, 1), [](const BatchRequest& r) { return std::make_unique<int64_t>(r.step); });
  CHECK(*loader.next() == 0);
  CHECK(*loader.next() == 1);
}

TEST_CASE("options that give no batch are refused") {
  CHECK(error_of([] { DataLoader<BatchRequest>(options(0, 1), echo); }) ==
        "data loader: the data set has no samples");
  CHECK(error_of([] { DataLoader<BatchRequest>(options(5, 0), echo); }) ==
        "data loader: batch size 0 is not positive");
  CHECK(error_of([] { DataLoader<BatchRequest>(options(5, 6), echo); }) ==
        "data loader: batch size 6 is larger than the data set (5 samples), so an epoch has no "
        "full batch");
  CHECK(error_of([] { DataLoader<BatchRequest>(options(5, 2, 1, -1), echo); }) ==
        "data loader: start step -1 is negative");
  LoaderOptions eval = options(5, 6);
  eval.drop_last = false;
  CHECK(examples::steps_per_epoch(eval) == 1);
}
