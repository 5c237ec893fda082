// Host memory for CPU tensors: 64-byte aligned, with large blocks cached for
// reuse (see cpu_allocator.cpp for why).
#pragma once
#include <lasergrad/core/storage.h>

#include <cstddef>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace lg::cpu {

class CachingCpuAllocator : public Allocator {
 public:
  ~CachingCpuAllocator() override;
  void* allocate(size_t nbytes) override;
  void deallocate(void* ptr, size_t nbytes) override;
  void release_cached();  // returns every cached block to the system
  size_t cached_bytes();

  // Blocks from this size up are cached; at most kMaxCached bytes are kept.
  // 64 KiB: below glibc's mmap threshold (128 KiB at first), so no block that
  // malloc may hand out as fresh mmap'd pages (and unmap on free) escapes the cache.
  static constexpr size_t kMinCached = size_t{1} << 16;
  static constexpr size_t kMaxCached = size_t{1} << 30;
  // The size class a request is served from (rounded up by at most 1/8).
  static size_t size_class(size_t nbytes);

 private:
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
};

}  // namespace lg::cpu
