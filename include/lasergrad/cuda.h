// The CUDA runtime calls PyTorch users know from torch.cuda. They work in
// every build: with no usable device, or a build without CUDA, is_available()
// is false, device_count() is 0, empty_cache() does nothing, memory_stats() is
// all zeros, and the calls that need a device (synchronize, current_device,
// set_device, DeviceGuard, or any call naming a device index) throw lg::Error.
#pragma once
#include <cstddef>

namespace lg::cuda {

// True when the CUDA backend is built and a device is usable (lg::cuda_is_available).
bool is_available();
int device_count();  // usable devices, cuda:0 .. cuda:device_count()-1

// The calling thread's current device (torch.cuda.current_device), which the
// calls below use when given no index. Kernels run on their tensors' device
// whatever the current one is.
int current_device();
void set_device(int device);  // lg::Error unless 0 <= device < device_count()

// Makes `device` current for a scope and restores the previous one on exit
// (torch.cuda.device).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_;
};

// Waits until all work queued on the device (default: the current one) has
// finished (torch.cuda.synchronize), and raises the first error its kernels
// reported since the last synchronisation (a bad index, say); lg::Error
// "cuda::synchronize: no CUDA device" where none is usable.
void synchronize(int device = -1);

// Returns the device's caching allocator's free blocks (default: the current
// device's) to the driver, so that other processes can use that memory
// (torch.cuda.empty_cache). Live tensors keep theirs.
void empty_cache(int device = -1);

struct MemoryStats {
  size_t allocated = 0;       // bytes held by live tensor storages
  size_t peak_allocated = 0;  // the most held at once since start or reset_peak_memory_allocated
  size_t cached = 0;          // bytes of freed blocks the allocator keeps for reuse
};
MemoryStats memory_stats(int device = -1);  // default: the current device

}  // namespace lg::cuda
