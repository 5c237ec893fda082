// Library start-up: registers the backends' kernels and allocators and
// installs the ops layer's hooks into core, once and explicitly. This folder
// is the top of the library: it depends on every layer, and none depends on it.
#include <lasergrad/cuda.h>
#include <lasergrad/lasergrad.h>
#include <lasergrad/runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "core/hooks.h"
#include "core/kernels.h"
#include "ops/core_hooks.h"
#ifdef LG_WITH_CUDA
#include "backends/cuda/cuda_backend.h"
#endif

// The spin count runtime/openmp_startup.cpp set, which it writes here from
// .preinit_array (so this object refers to nothing above it); null where it
// set none or is not linked (a shared library).
extern "C" {
extern const char* lg_startup_spin_record;
const char* lg_startup_spin_record = nullptr;
}

namespace lg {

void init() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_cpu_backend();
#ifdef LG_WITH_CUDA
    register_cuda_backend();
#endif
    detail::install_ops_into_core();
  });
}

std::string openmp_wait_policy() {
  std::string user;
  for (const char* name : {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"})
    if (const char* value = std::getenv(name)) {
      if (!user.empty()) user.append(" ");
      user.append(name).append("=").append(value);
    }
  if (!user.empty()) return user + " (environment)";
  if (const char* spin = lg_startup_spin_record)
    return std::string("GOMP_SPINCOUNT=") + spin + " (lasergrad's start-up)";
  return "libgomp's default";
}

std::string cpu_name() {
  std::ifstream info("/proc/cpuinfo");
  std::string line;
  while (std::getline(info, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) break;
    std::string name;
    for (char c : line.substr(colon + 1))
      if (c != '"' && c != '\\' && (c != ' ' || (!name.empty() && name.back() != ' '))) name += c;
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (!name.empty()) return name;
  }
  return "unknown CPU";
}

double measure_sgemm_gflops(int64_t n, int runs, Device device) {
  LG_CHECK(n >= 1 && runs >= 1, "measure_sgemm_gflops: need n >= 1 and runs >= 1, got n ", n,
           " and runs ", runs);
  NoGradGuard no_grad;
  // Constant operands: GEMM speed does not depend on the values (normal
  // floats), and the caller's random stream is left as it was.
  Tensor a = full({n, n}, 0.5, {.device = device}), b = full({n, n}, 0.25, {.device = device});
  // Waits for the device's queued work, so that each timed call is all of its own.
  auto wait = [&] {
    if (device.is_cuda()) cuda::synchronize(device.index);
  };
  (void)matmul(a, b);  // untimed: first-touch and BLAS start-up
  std::vector<double> seconds;
  for (int i = 0; i < runs; ++i) {
    wait();
    const auto start = std::chrono::steady_clock::now();
    Tensor c = matmul(a, b);
    wait();
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  // The best run: the rate the machine reaches, not one a neighbour slowed.
  const double s = *std::min_element(seconds.begin(), seconds.end());
  return 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) / s / 1e9;
}

bool cuda_is_available() { return cuda_device_count() > 0; }

int cuda_device_count() {
#ifdef LG_WITH_CUDA
  return cuda_backend_device_count();
#else
  return 0;
#endif
}

namespace cuda {

bool is_available() { return cuda_is_available(); }
int device_count() { return cuda_device_count(); }

// The rest go through core's per-device table, which the CUDA backend fills
// only where a device is usable: empty slots mean no device (or no CUDA in
// this build).
namespace {
const DeviceKernels& backend(const char* op) {
  const DeviceKernels& k = device_kernels(Device::cuda());
  LG_CHECK(k.current_device != nullptr, op, ": no CUDA device");
  return k;
}
// -1: the current device; others are checked by the backend.
int resolve(const DeviceKernels& k, int device) {
  return device == -1 ? k.current_device() : device;
}
}  // namespace

int current_device() { return backend("cuda::current_device").current_device(); }

void set_device(int device) { backend("cuda::set_device").set_device(device); }

DeviceGuard::DeviceGuard(int device) : previous_(backend("cuda::DeviceGuard").current_device()) {
  set_device(device);
}

// Restoring a device that was current a moment ago does not fail in a way
// worth throwing from a destructor.
DeviceGuard::~DeviceGuard() {
  try {
    set_device(previous_);
  } catch (const Error&) {
  }
}

void synchronize(int device) {
  const DeviceKernels& k = backend("cuda::synchronize");
  k.synchronize_device(resolve(k, device));
}

void empty_cache(int device) {
  const DeviceKernels& k = device_kernels(Device::cuda());
  if (k.empty_cache) k.empty_cache(resolve(k, device));
}

MemoryStats memory_stats(int device) {
  const DeviceKernels& k = device_kernels(Device::cuda());
  if (!k.cached_bytes) return {};
  const Device d = Device::cuda(resolve(k, device));
  const size_t cached = k.cached_bytes(d.index);  // checks the index first
  return {.allocated = memory_allocated(d),
          .peak_allocated = max_memory_allocated(d),
          .cached = cached};
}

}  // namespace cuda

}  // namespace lg

// Arms core's lazy start-up before main(), so that programs need not call
// lg::init() themselves. The lasergrad target exports the link option
// --undefined=lg_runtime_anchor, so this object is linked into every program
// even from a static archive, where an unreferenced member would be dropped
// together with its initialiser.
extern "C" {
extern const int lg_runtime_anchor;
const int lg_runtime_anchor = (lg::detail::set_initializer(&lg::init), 1);
}
