// Large allocations come from fresh mmap'd pages, and the first touch of each
// page faults: for a 64 MB temporary that costs as much as the kernel that
// fills it. Freed blocks of 64 KiB or more are therefore kept in per-size-class
// free lists and reused, up to 1 GiB; lg::empty_cache() hands them back.
// Under AddressSanitizer nothing is cached, so use-after-free stays visible.
#include "cpu_allocator.h"

#include <sys/sysinfo.h>

#include <lasergrad/core/error.h>

#include <bit>
#include <cstdlib>
#include <new>
#include <string>

namespace lg::cpu {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCaching = false;
#else
constexpr bool kCaching = true;
#endif

// RAM plus swap: no request above it can be met. Refused up front, because
// not every malloc says no by returning null (AddressSanitizer's aborts on a
// request above its own limit, 1 TiB).
size_t host_memory_bytes() {
  static const size_t bytes = [] {
    struct sysinfo info {};
    if (sysinfo(&info) != 0) return SIZE_MAX;
    return (static_cast<size_t>(info.totalram) + info.totalswap) * info.mem_unit;
  }();
  return bytes;
}

void* aligned_block(size_t nbytes) {
  LG_CHECK(nbytes <= host_memory_bytes(), "cpu allocator: out of memory: ", nbytes,
           " bytes asked for, more than this machine's ", host_memory_bytes(),
           " bytes of memory and swap");
  void* p = std::aligned_alloc(64, (nbytes + 63) / 64 * 64);
  if (!p) throw Error("cpu allocator: out of memory allocating " + std::to_string(nbytes) + " bytes");
  return p;
}

}  // namespace

size_t CachingCpuAllocator::size_class(size_t nbytes) {
  if (nbytes < kMinCached) return (nbytes + 63) / 64 * 64;
  const size_t step = std::bit_floor(nbytes) / 8;  // eight classes per power of two
  return (nbytes + step - 1) / step * step;
}

CachingCpuAllocator::~CachingCpuAllocator() { release_cached(); }

void* CachingCpuAllocator::allocate(size_t nbytes) {
  const size_t cls = size_class(nbytes);
  if (kCaching && cls >= kMinCached) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find(cls);
    if (it != free_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      cached_ -= cls;
      return p;
    }
  }
  return aligned_block(cls);
}

void CachingCpuAllocator::deallocate(void* ptr, size_t nbytes) {
  const size_t cls = size_class(nbytes);
  if (kCaching && cls >= kMinCached) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cached_ + cls <= kMaxCached) {
      try {
        free_[cls].push_back(ptr);
        cached_ += cls;
        return;
      } catch (const std::bad_alloc&) {  // no room to remember the block: free it
      }
    }
  }
  std::free(ptr);
}

void CachingCpuAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [cls, blocks] : free_)
    for (void* p : blocks) std::free(p);
  free_.clear();
  cached_ = 0;
}

size_t CachingCpuAllocator::cached_bytes() {
  std::lock_guard<std::mutex> lock(mutex_);
  return cached_;
}

}  // namespace lg::cpu
