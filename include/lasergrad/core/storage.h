// Storage: one allocation on one device, shared by a tensor and all its views.
// It carries the version counter that in-place ops bump and autograd checks.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "device.h"

namespace lg {

// Device memory comes from the allocator a backend registers for each device
// (type and index), so a backend with several devices gives each its own.
class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* ptr, size_t nbytes) = 0;
};

// Device indices a backend may register: enough for any one machine today.
inline constexpr int kMaxDevicesPerType = 16;

void register_allocator(Device device, Allocator* allocator);
void register_allocator(DeviceType type, Allocator* allocator);  // for index 0

// Bytes held by live tensor storages on a device (type and index), and the peak since start
// (or since reset_peak_memory_allocated).
size_t memory_allocated(Device device = Device::cpu());
size_t max_memory_allocated(Device device = Device::cpu());
void reset_peak_memory_allocated(Device device = Device::cpu());
Allocator* allocator_for(Device device);  // throws lg::Error if none is registered

class Storage {
 public:
  Storage(size_t nbytes, Device device);  // from the device's registered allocator
  // From `allocator` (kept for the deallocation; must outlive the storage).
  Storage(size_t nbytes, Device device, Allocator* allocator);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  // Atomic: threads may write disjoint views of one storage at once, and
  // each in-place write must count (autograd compares versions). Relaxed
  // order suffices: the count orders nothing else, and a tensor whose data
  // one thread writes while another reads it is a data race regardless.
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  Allocator* allocator_ = nullptr;
  std::atomic<uint64_t> version_{0};
};

}  // namespace lg
