#include "storage.h"

#include <array>

#include "error.h"
#include "kernels.h"

namespace lg {
namespace {
std::array<Allocator*, kNumDeviceTypes>& allocators() {
  static std::array<Allocator*, kNumDeviceTypes> table{};
  return table;
}
}  // namespace

void register_allocator(DeviceType type, Allocator* allocator) {
  allocators()[static_cast<size_t>(type)] = allocator;
}

Allocator* allocator_for(Device device) {
  detail::ensure_runtime();
  Allocator* a = allocators()[static_cast<size_t>(device.type)];
  LG_CHECK(a != nullptr, "no allocator for device ", device.str(),
           " (is the backend built and is a device present? see cuda_is_available())");
  return a;
}

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  allocator_ = allocator_for(device);
  data_ = nbytes ? allocator_->allocate(nbytes) : nullptr;
}

Storage::~Storage() {
  if (data_) allocator_->deallocate(data_, nbytes_);
}

}  // namespace lg
