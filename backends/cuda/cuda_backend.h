// The CUDA backend's entry points for library start-up (runtime/runtime.cpp). Free of
// CUDA headers, so that programs including lasergrad need no CUDA toolkit.
#pragma once

namespace lg {

// Registers the CUDA allocator and kernels into core's tables when at least
// one device is usable; with no device (or no driver) it registers nothing.
void register_cuda_backend();

// Usable CUDA devices; 0 on any error (no driver, no device), never throws.
int cuda_backend_device_count();

}  // namespace lg
