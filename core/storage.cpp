#include <lasergrad/core/error.h>
#include <lasergrad/core/storage.h>

#include <array>
#include <atomic>
#include <new>

#include "hooks.h"
#include "kernels.h"

namespace lg {
namespace {
std::array<Allocator*, kNumDeviceTypes>& allocators() {
  static std::array<Allocator*, kNumDeviceTypes> table{};
  return table;
}
struct MemoryCounters {
  std::atomic<size_t> current{0};
  std::atomic<size_t> peak{0};
};
std::array<MemoryCounters, kNumDeviceTypes>& counters() {
  static std::array<MemoryCounters, kNumDeviceTypes> c;
  return c;
}
MemoryCounters& counters_for(Device d) { return counters()[static_cast<size_t>(d.type)]; }
detail::StartupOnlyTable& allocators_guard() {
  static detail::StartupOnlyTable g("allocators");
  return g;
}
}  // namespace

size_t memory_allocated(Device device) { return counters_for(device).current; }
size_t max_memory_allocated(Device device) { return counters_for(device).peak; }
void reset_peak_memory_allocated(Device device) {
  counters_for(device).peak = counters_for(device).current.load();
}

void register_allocator(DeviceType type, Allocator* allocator) {
  auto lock = allocators_guard().lock_for_write("register_allocator");
  allocators()[static_cast<size_t>(type)] = allocator;
}

Allocator* allocator_for(Device device) {
  detail::ensure_initialized();
  allocators_guard().mark_in_use();
  Allocator* a = allocators()[static_cast<size_t>(device.type)];
  LG_CHECK(a != nullptr, "no allocator for device ", device.str(),
           " (is the backend built and is a device present? see cuda_is_available())");
  return a;
}

Storage::Storage(size_t nbytes, Device device) : Storage(nbytes, device, allocator_for(device)) {}

Storage::Storage(size_t nbytes, Device device, Allocator* allocator)
    : nbytes_(nbytes), device_(device), allocator_(allocator) {
  LG_CHECK(allocator != nullptr, "Storage: no allocator for ", device.str());
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
