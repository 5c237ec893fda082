// A data loader for training loops: batches of sample indices in an order fixed
// by (seed, epoch), numbered by a global step so that a run can start at any
// step, built by a user function on one background thread while the caller
// trains on the previous batch.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace examples {

// SplitMix64's output function (Steele et al.): the loader's and the data
// augmentation's generator, fixed here because std:: distributions differ
// between standard libraries.
uint64_t splitmix64(uint64_t x);
// A 64-bit key from several values (seed, epoch, sample, ...), each mixed in
// turn, so that keys differing in any part give unrelated streams.
uint64_t mix_key(std::initializer_list<uint64_t> parts);
// An integer in [0, bound) from 64 random bits (Lemire's multiply-shift; the
// bias is below bound / 2^64).
uint64_t below(uint64_t random_bits, uint64_t bound);

// The order of the n samples in epoch `epoch`: 0..n-1 when !shuffle, else a
// permutation (Fisher-Yates) that depends on (seed, epoch) only.
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle);

struct LoaderOptions {
  int64_t num_samples = 0;
  int64_t batch_size = 1;
  uint64_t seed = 0;
  bool shuffle = true;
  // true: each epoch has num_samples / batch_size full batches (training);
  // false: the last batch of an epoch may be short (evaluation).
  bool drop_last = true;
  int64_t start_step = 0;  // the step the first next() returns (a resumed run's)
  // No batch is built at or after this step (and next() there throws), so the
  // worker does not prepare one that nobody takes: the run's last step + 1,
  // or steps_per_epoch for one evaluation pass. Empty: endless.
  std::optional<int64_t> stop_step;
};

// Which batch to build: step s is batch s % steps_per_epoch of epoch
// s / steps_per_epoch.
struct BatchRequest {
  int64_t step = 0;
  int64_t epoch = 0;
  int64_t index_in_epoch = 0;
  std::vector<int64_t> sample_indices;  // into the data set, in batch order
  uint64_t seed = 0;                    // LoaderOptions::seed, for augmentation
};

// The number of batches per epoch under these options; throws
// std::invalid_argument ("data loader: ...") when the options make none.
int64_t steps_per_epoch(const LoaderOptions& options);
// The request for one step, what the loader's worker hands to make: for tests
// and for code that wants one batch without a loader. The second form takes
// the step's epoch_order, which the worker keeps for a whole epoch.
BatchRequest batch_request(const LoaderOptions& options, int64_t step);
BatchRequest batch_request(const LoaderOptions& options, const std::vector<int64_t>& order,
                           int64_t step);

// The loader. make(request) runs on the worker thread, one batch at a time, at
// most kDepth batches ahead of the caller; what it returns must depend on the
// request only (not on timing), so a run's batches are the same whether or not
// it was resumed. An exception thrown by make reaches the caller from the
// next() of that batch, after the batches before it. The destructor stops the
// worker and joins it: at once if it waits for room, after the make in
// progress if it is building a batch.
template <typename Batch>
class DataLoader {
 public:
  static constexpr size_t kDepth = 2;
  using Make = std::function<Batch(const BatchRequest&)>;

  DataLoader(LoaderOptions options, Make make)
      : options_(std::move(options)),
        steps_per_epoch_(examples::steps_per_epoch(options_)),
        make_(std::move(make)),
        next_step_(options_.start_step) {
    if (options_.start_step < 0)
      throw std::invalid_argument("data loader: start step " + std::to_string(options_.start_step) +
                                  " is negative");
    worker_ = std::thread([this] { run(); });
  }
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  ~DataLoader() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    worker_.join();
  }

  // The batch of step(), then step() + 1. Rethrows make's exception for that
  // step; throws std::runtime_error when the worker stopped before building it.
  Batch next() {
    if (at_end(next_step_))
      throw std::logic_error("data loader: next() at step " + std::to_string(next_step_) +
                             ", the stop step");
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return !ready_.empty() || worker_done_; });
    if (ready_.empty())
      throw std::runtime_error("data loader: the worker stopped before step " +
                               std::to_string(next_step_));
    Slot slot = std::move(ready_.front());
    ready_.pop_front();
    lock.unlock();
    changed_.notify_all();
    ++next_step_;
    if (slot.error) std::rethrow_exception(slot.error);
    return std::move(*slot.batch);
  }

  int64_t step() const { return next_step_; }
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  int64_t epoch() const { return next_step_ / steps_per_epoch_; }

 private:
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };

  bool at_end(int64_t step) const { return options_.stop_step && step >= *options_.stop_step; }

  // The worker: builds the batches in step order until stopped, at the stop
  // step, or after make threw (the error is the last slot).
  void run() {
    std::vector<int64_t> order;
    int64_t order_epoch = -1;
    for (int64_t step = options_.start_step; !at_end(step); ++step) {
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [this] { return stopping_ || ready_.size() < kDepth; });
        if (stopping_) break;
      }
      Slot slot;
      try {
        const int64_t epoch = step / steps_per_epoch_;
        if (epoch != order_epoch) {
          order = epoch_order(options_.num_samples, options_.seed, epoch, options_.shuffle);
          order_epoch = epoch;
        }
        slot.batch.emplace(make_(batch_request(options_, order, step)));
      } catch (...) {
        slot.error = std::current_exception();
      }
      const bool failed = slot.error != nullptr;
      {
        std::lock_guard lock(mutex_);
        ready_.push_back(std::move(slot));
      }
      changed_.notify_all();
      if (failed) break;
    }
    {
      std::lock_guard lock(mutex_);
      worker_done_ = true;
    }
    changed_.notify_all();
  }

  const LoaderOptions options_;
  const int64_t steps_per_epoch_;
  const Make make_;
  int64_t next_step_;  // the caller's; the worker keeps its own

  std::mutex mutex_;
  std::condition_variable changed_;  // a slot was taken or added, or stopping_ was set
  std::deque<Slot> ready_;           // built batches of steps next_step_, next_step_ + 1, ...
  bool stopping_ = false;
  bool worker_done_ = false;
  std::thread worker_;  // last: started once everything above is initialised
};

}  // namespace examples
