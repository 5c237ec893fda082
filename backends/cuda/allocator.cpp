// The caching allocator for CUDA device memory. cudaMalloc and cudaFree are
// slow and cudaFree synchronises the device, so freed blocks are kept in free
// lists by size class and handed out again; only when cudaMalloc runs out of
// memory, or on lg::cuda::empty_cache(), are the cached blocks given back to
// the driver. Each device has its own allocator and pool.
#include <array>
#include <bit>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cuda_internal.h"

namespace lg::cuda {
namespace {

constexpr size_t kSmallLimit = size_t{1} << 20;
constexpr size_t kSmallStep = 512;

// Small requests round up to 512 bytes; larger ones to one of four classes per
// power of two, so a reused block wastes at most a quarter of its size.
size_t size_class(size_t nbytes) {
  if (nbytes <= kSmallLimit) return (nbytes + kSmallStep - 1) / kSmallStep * kSmallStep;
  const size_t step = size_t{1} << (std::bit_width(nbytes - 1) - 3);
  return (nbytes + step - 1) / step * step;
}

class CachingAllocator final : public Allocator {
 public:
  explicit CachingAllocator(int device) : device_(device) {}

  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    const size_t size = size_class(nbytes);
    DeviceScope scope("cuda allocator", device_);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_blocks_.find(size);
    if (it != free_blocks_.end() && !it->second.empty()) {
      void* block = it->second.back();
      it->second.pop_back();
      cached_bytes_ -= size;
      return block;
    }
    void* block = nullptr;
    cudaError_t status = cudaMalloc(&block, size);
    if (status == cudaErrorMemoryAllocation && cached_bytes_ > 0) {
      cudaGetLastError();  // the retry below decides whether this was an error
      release_cached();
      status = cudaMalloc(&block, size);
    }
    if (status != cudaSuccess) {
      cudaGetLastError();
      detail::fail("cuda allocator: cudaMalloc of ", size,
                   " bytes failed: ", cudaGetErrorString(status), " (", cudaGetErrorName(status),
                   "); ", memory_allocated(Device::cuda(device_)),
                   " bytes are held by live tensors on cuda:", device_);
    }
    return block;
  }

  // Called from Storage's destructor: must not throw. The block may still be in
  // use by queued kernels. Handing it out again at once is safe because all
  // work on this device runs on its one stream (device_stream): any later user
  // of the block is queued after the kernels that still read or write it. (A
  // second stream would need an event per block, recorded here.)
  void deallocate(void* ptr, size_t nbytes) override {
    if (ptr == nullptr) return;
    const size_t size = size_class(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    free_blocks_[size].push_back(ptr);
    cached_bytes_ += size;
  }

  void empty_cache() {
    DeviceScope scope("cuda::empty_cache", device_);
    std::lock_guard<std::mutex> lock(mutex_);
    release_cached();
  }

  size_t cached_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_bytes_;
  }

 private:
  // Gives every cached block back to the driver (mutex_ held). cudaFree waits
  // for the device, so no queued kernel still uses them.
  void release_cached() {
    for (auto& [size, blocks] : free_blocks_) {
      while (!blocks.empty()) {
        void* block = blocks.back();
        blocks.pop_back();
        cached_bytes_ -= size;
        check(cudaFree(block), "cuda allocator", "cudaFree");
      }
    }
  }

  const int device_;
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_blocks_;  // size class -> blocks
  size_t cached_bytes_ = 0;
};

// device: checked by the caller (check_device_index).
CachingAllocator& instance(int device) {
  // Never destroyed: tensors in static storage may free their memory after
  // other statics are gone.
  static auto* allocators = [] {
    auto* all = new std::array<CachingAllocator*, kMaxDevicesPerType>();
    for (int d = 0; d < kMaxDevicesPerType; ++d) (*all)[d] = new CachingAllocator(d);
    return all;
  }();
  return *(*allocators)[static_cast<size_t>(device)];
}

}  // namespace

Allocator& caching_allocator(int device) { return instance(device); }

void release_cached_blocks(int device) {
  check_device_index("cuda::empty_cache", device);
  instance(device).empty_cache();
}

size_t cached_block_bytes(int device) {
  check_device_index("cuda::memory_stats", device);
  return instance(device).cached_bytes();
}

}  // namespace lg::cuda
