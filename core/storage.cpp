#include <lasergrad/core/error.h>
#include <lasergrad/core/storage.h>

#include <array>
#include <atomic>
#include <new>

#include "hooks.h"
#include "kernels.h"

namespace lg {
namespace {
template <typename T>
using PerDevice = std::array<std::array<T, kMaxDevicesPerType>, kNumDeviceTypes>;

PerDevice<Allocator*>& allocators() {
  static PerDevice<Allocator*> table{};
  return table;
}
struct MemoryCounters {
  std::atomic<size_t> current{0};
  std::atomic<size_t> peak{0};
};
PerDevice<MemoryCounters>& counters() {
  static PerDevice<MemoryCounters> c;
  return c;
}
void check_index(Device d, const char* op) {
  LG_CHECK(d.index >= 0 && d.index < kMaxDevicesPerType, op, ": device index ", d.index, " of ",
           d.str(), " is out of range [0, ", kMaxDevicesPerType, ")");
}
// Unchecked: callers pass a device that check_index accepted (a storage's, or
// one checked on entry).
MemoryCounters& counters_for(Device d) {
  return counters()[static_cast<size_t>(d.type)][static_cast<size_t>(d.index)];
}
detail::StartupOnlyTable& allocators_guard() {
  static detail::StartupOnlyTable g("allocators");
  return g;
}
}  // namespace

size_t memory_allocated(Device device) {
  check_index(device, "memory_allocated");
  return counters_for(device).current;
}
size_t max_memory_allocated(Device device) {
  check_index(device, "max_memory_allocated");
  return counters_for(device).peak;
}
void reset_peak_memory_allocated(Device device) {
  check_index(device, "reset_peak_memory_allocated");
  counters_for(device).peak = counters_for(device).current.load();
}

void register_allocator(Device device, Allocator* allocator) {
  check_index(device, "register_allocator");
  auto lock = allocators_guard().lock_for_write("register_allocator");
  allocators()[static_cast<size_t>(device.type)][static_cast<size_t>(device.index)] = allocator;
}

void register_allocator(DeviceType type, Allocator* allocator) {
  register_allocator(Device{type, 0}, allocator);
}

Allocator* allocator_for(Device device) {
  detail::ensure_initialized();
  allocators_guard().mark_in_use();
  check_index(device, "allocator_for");
  Allocator* a = allocators()[static_cast<size_t>(device.type)][static_cast<size_t>(device.index)];
  LG_CHECK(a != nullptr, "no allocator for device ", device.str(),
           " (is the backend built and is a device present? see cuda_is_available())");
  return a;
}

Storage::Storage(size_t nbytes, Device device) : Storage(nbytes, device, allocator_for(device)) {}

Storage::Storage(size_t nbytes, Device device, Allocator* allocator)
    : nbytes_(nbytes), device_(device), allocator_(allocator) {
  LG_CHECK(allocator != nullptr, "Storage: no allocator for ", device.str());
  check_index(device, "Storage");
  try {
    data_ = nbytes ? allocator_->allocate(nbytes) : nullptr;
  } catch (const std::bad_alloc&) {  // an allocator that reports no memory by throwing
    detail::fail("out of memory allocating ", nbytes, " bytes on ", device.str());
  }
  MemoryCounters& c = counters_for(device);
  size_t now = c.current += nbytes;
  size_t peak = c.peak;
  while (now > peak && !c.peak.compare_exchange_weak(peak, now)) {
  }
}

Storage::~Storage() {
  if (data_) allocator_->deallocate(data_, nbytes_);
  counters_for(device_).current -= nbytes_;
}

}  // namespace lg
