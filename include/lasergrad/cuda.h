// The CUDA runtime calls PyTorch users know from torch.cuda, for cuda:0 (the
// one device the CUDA backend runs on so far). They work in every build: with
// no usable device, or a build without CUDA, is_available() is false,
// empty_cache() does nothing, memory_stats() is all zeros and synchronize()
// throws lg::Error.
#pragma once
#include <cstddef>

namespace lg::cuda {

// True when the CUDA backend is built and a device is usable (lg::cuda_is_available).
bool is_available();

// Waits until all work queued on cuda:0 has finished (torch.cuda.synchronize);
// lg::Error "cuda::synchronize: no CUDA device" where none is usable.
void synchronize();

// Returns the caching allocator's free blocks to the driver, so that other
// processes can use that memory (torch.cuda.empty_cache). Live tensors keep theirs.
void empty_cache();

struct MemoryStats {
  size_t allocated = 0;       // bytes held by live tensor storages
  size_t peak_allocated = 0;  // the most held at once since start or reset_peak_memory_allocated
  size_t cached = 0;          // bytes of freed blocks the allocator keeps for reuse
};
MemoryStats memory_stats();

}  // namespace lg::cuda
