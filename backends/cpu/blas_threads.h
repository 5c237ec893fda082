// OpenBLAS keeps one global thread count. Changing it while another thread
// is inside a threaded BLAS call leaves that call's team waiting for workers
// that were never started (a hang in OpenBLAS 0.3.21's exec_blas). So every
// kernel that calls BLAS holds this lock shared for the whole kernel, and
// set_num_threads holds it exclusively while it changes the count.
#pragma once
#include <condition_variable>
#include <mutex>
#include <shared_mutex>

namespace lg::cpu {

// A shared/exclusive lock that lets a waiting writer in first: kernels from
// other threads that arrive while set_num_threads waits queue behind it, so a
// thread running matmuls back to back cannot starve it. Shared holders must
// not take it again while holding it (kernels do not nest).
class BlasThreadsLock {
 public:
  void lock_shared() {
    std::unique_lock<std::mutex> guard(mutex_);
    changed_.wait(guard, [&] { return !writing_ && waiting_writers_ == 0; });
    ++readers_;
  }
  void unlock_shared() {
    std::lock_guard<std::mutex> guard(mutex_);
    if (--readers_ == 0) changed_.notify_all();
  }
  void lock() {
    std::unique_lock<std::mutex> guard(mutex_);
    ++waiting_writers_;
    changed_.wait(guard, [&] { return !writing_ && readers_ == 0; });
    --waiting_writers_;
    writing_ = true;
  }
  void unlock() {
    std::lock_guard<std::mutex> guard(mutex_);
    writing_ = false;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int readers_ = 0, waiting_writers_ = 0;
  bool writing_ = false;
};

BlasThreadsLock& blas_threads_lock();  // the process's one (cpu_backend.cpp)

// Held for the duration of one BLAS-calling kernel.
class BlasCallGuard {
 public:
  BlasCallGuard() : lock_(blas_threads_lock()) {}

 private:
  std::shared_lock<BlasThreadsLock> lock_;
};

}  // namespace lg::cpu
