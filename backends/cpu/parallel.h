// The one way the CPU kernels fork OpenMP teams. An exception that leaves an
// OpenMP parallel region terminates the process, so every worker runs its
// share under a try/catch: the first exception is kept (later ones are
// dropped), the remaining work is skipped, and the exception is rethrown on
// the calling thread after the join.
//
// Work below its grain, work started from inside a parallel region (a nested
// team would oversubscribe the cores) and a 1-thread setting run as a plain
// loop on the caller, outside any region. That matters for BLAS: OpenBLAS
// called inside even an inactive region (`omp parallel if (false)`) forms a
// nested team of its own threads, so a kernel that may want a multi-threaded
// BLAS call must make it outside these helpers, not through a 1-thread team.
#pragma once
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <limits>

namespace lg::cpu {

// Work below this many elements stays on one thread.
inline constexpr int64_t kParallelGrain = 32768;

// A grain that no range reaches: the loop always runs serially.
inline constexpr int64_t kSerialGrain = std::numeric_limits<int64_t>::max();

// The fewest iterations of `work_per_iteration` elements each that make up
// `min_work` elements: the grain that parallelises a loop exactly when
// iterations * work_per_iteration >= min_work.
inline int64_t grain_for(int64_t work_per_iteration, int64_t min_work = kParallelGrain) {
  const int64_t per = std::max<int64_t>(work_per_iteration, 1);
  return std::max<int64_t>(1, min_work / per + (min_work % per != 0));
}

// The grain for a loop whose worth is judged on its total work: any range
// when worth_a_team, else none.
inline int64_t grain_when(bool worth_a_team) { return worth_a_team ? 1 : kSerialGrain; }

// How iterations are handed to the workers: Static gives each worker one
// contiguous block (as `schedule(static)`), Dynamic one iteration at a time
// (as `schedule(dynamic)`, for iterations of uneven cost).
enum class Schedule { Static, Dynamic };

// The first exception thrown by any worker of one team.
class FirstException {
 public:
  // Call from a catch block.
  void capture() noexcept {
    bool expected = false;
    if (failed_.compare_exchange_strong(expected, true)) first_ = std::current_exception();
  }
  bool failed() const noexcept { return failed_.load(std::memory_order_relaxed); }
  // After the join: the region's end orders every capture before this read.
  void rethrow_if_any() const {
    if (first_) std::rethrow_exception(first_);
  }

 private:
  std::atomic<bool> failed_{false};
  std::exception_ptr first_;
};

// One worker of a team started by parallel_region (or the caller alone when
// the region runs serially).
class Worker {
 public:
  Worker(FirstException* errors, int index, int size)
      : errors_(errors), index_(index), size_(size) {}
  int index() const { return index_; }
  int size() const { return size_; }

  // Shares fn(i) for i in [begin, end) among the team, like `omp for nowait`:
  // every worker must call it, in the same order, and a worker returns as
  // soon as its own share is done (call barrier() before reading what other
  // workers wrote). A worker that throws skips the rest of its share and the
  // team skips what it has not started.
  template <typename Fn>
  void for_each(int64_t begin, int64_t end, Schedule schedule, Fn&& fn) {
    if (!errors_) {  // serial: exceptions propagate to the caller directly
      for (int64_t i = begin; i < end; ++i) fn(i);
      return;
    }
    if (schedule == Schedule::Static)
      run_static_block(begin, end, fn);
    else
      run_dynamic(begin, end, fn);
  }

  // Waits for the whole team (every worker must call it).
  void barrier() const {
    if (errors_) {
#pragma omp barrier
    }
  }

 private:
  // This worker's block of a static split: the first (n % size) workers take
  // one iteration more, as libgomp's `schedule(static)` does.
  template <typename Fn>
  void run_static_block(int64_t begin, int64_t end, Fn& fn) {
    const int64_t n = end - begin, q = n / size_, extra = n % size_;
    const int64_t lo = begin + q * index_ + std::min<int64_t>(index_, extra);
    const int64_t hi = lo + q + (index_ < extra);
    try {
      for (int64_t i = lo; i < hi && !errors_->failed(); ++i) fn(i);
    } catch (...) {
      errors_->capture();
    }
  }

  template <typename Fn>
  void run_dynamic(int64_t begin, int64_t end, Fn& fn) {
#pragma omp for schedule(dynamic) nowait
    for (int64_t i = begin; i < end; ++i) {
      if (errors_->failed()) continue;
      try {
        fn(i);
      } catch (...) {
        errors_->capture();
      }
    }
  }

  FirstException* errors_;  // null when the region runs serially
  int index_, size_;
};

// Runs body(worker) on each of `threads` workers (one team; serially on the
// caller when threads <= 1 or already inside a parallel region). The body
// shares loops with worker.for_each and may keep per-worker scratch, but
// whatever can throw (allocating that scratch included) belongs inside a
// for_each iteration: a worker that left the body early would miss the
// barriers the others wait at.
template <typename Body>
void parallel_region(int threads, Body&& body) {
  if (threads <= 1 || omp_in_parallel()) {
    Worker alone(nullptr, 0, 1);
    body(alone);
    return;
  }
  FirstException errors;
#pragma omp parallel num_threads(threads)
  {
    Worker worker(&errors, omp_get_thread_num(), omp_get_num_threads());
    try {
      body(worker);
    } catch (...) {  // thrown outside a for_each: kept, not fatal
      errors.capture();
    }
  }
  errors.rethrow_if_any();
}

// The team size a loop of n iterations gets: all threads unless the range is
// below its grain, there is one thread, or we are already in a region.
inline int team_size(int64_t n, int64_t grain) {
  if (n < std::max<int64_t>(grain, 2) || omp_in_parallel()) return 1;
  return static_cast<int>(std::min<int64_t>(omp_get_max_threads(), n));
}

// fn(i) for i in [begin, end), on a team when the range reaches `grain`
// iterations; the first exception any iteration throws reaches the caller.
template <typename Fn>
void parallel_for(int64_t begin, int64_t end, int64_t grain, Fn&& fn,
                  Schedule schedule = Schedule::Static) {
  const int threads = team_size(end - begin, grain);
  if (threads <= 1) {
    for (int64_t i = begin; i < end; ++i) fn(i);
    return;
  }
  parallel_region(threads, [&](Worker& w) { w.for_each(begin, end, schedule, fn); });
}

}  // namespace lg::cpu
