// Library start-up and devices: what is available at run time.
#pragma once

namespace lg {

// True when the CUDA backend is built and a CUDA device is usable (false,
// not an error, when the driver or device is missing).
bool cuda_is_available();
int cuda_device_count();

}  // namespace lg
