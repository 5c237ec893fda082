// lg::cuda's runtime calls (include/lasergrad/cuda.h) where no CUDA device is
// usable: the CPU-only build, and the CUDA build on a machine without a GPU.
// tests/test_cuda.cpp checks them on a GPU.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

using namespace lg;

TEST_CASE("cuda::is_available agrees with the device count") {
  CHECK(cuda::is_available() == (cuda_device_count() > 0));
  CHECK(cuda::is_available() == cuda_is_available());
}

TEST_CASE("without a usable CUDA device the lg::cuda calls are safe and say so") {
  if (cuda::is_available()) {
    MESSAGE("a CUDA device is usable here; tests/test_cuda.cpp covers this case");
    return;
  }
  CHECK_THROWS_WITH_AS(cuda::synchronize(), "cuda::synchronize: no CUDA device", Error);

  // CPU tensors count neither towards CUDA's stats nor into its cache, and
  // cuda::empty_cache leaves the CPU allocator's cached blocks alone.
  empty_cache();
  { Tensor big = empty({1 << 20}); }  // 4 MiB: cached on free
  const size_t cpu_cached = cpu_cached_bytes();
#if !defined(__SANITIZE_ADDRESS__)  // where the CPU allocator caches nothing
  CHECK(cpu_cached > 0);
#endif
  cuda::empty_cache();
  cuda::empty_cache();
  CHECK(cpu_cached_bytes() == cpu_cached);
  empty_cache();

  const cuda::MemoryStats stats = cuda::memory_stats();
  CHECK(stats.allocated == 0);
  CHECK(stats.peak_allocated == 0);
  CHECK(stats.cached == 0);
}

TEST_CASE("device indices that name no device are refused with lg::Error") {
  const int n = cuda::device_count();
  CHECK(n == cuda_device_count());
  // With no device these say "no CUDA device", with one "does not exist".
  CHECK_THROWS_AS(cuda::set_device(n), Error);
  CHECK_THROWS_AS(cuda::DeviceGuard{n}, Error);
  CHECK_THROWS_AS(cuda::synchronize(n), Error);
  CHECK_THROWS_AS(cuda::set_device(-5), Error);
  CHECK_THROWS_AS(zeros({2}, {.device = Device::cuda(n)}), Error);
  // Beyond core's per-device tables, even the counters refuse.
  CHECK_THROWS_WITH_AS(memory_allocated(Device::cuda(kMaxDevicesPerType)),
                       doctest::Contains("out of range"), Error);
  CHECK(memory_allocated(Device::cuda(kMaxDevicesPerType - 1)) == 0);
}

TEST_CASE("without a CUDA device the device calls say so") {
  if (cuda::is_available()) {
    MESSAGE("a CUDA device is usable here; tests/test_cuda.cpp covers this case");
    return;
  }
  CHECK(cuda::device_count() == 0);
  CHECK_THROWS_WITH_AS(cuda::current_device(), "cuda::current_device: no CUDA device", Error);
  CHECK_THROWS_WITH_AS(cuda::set_device(0), "cuda::set_device: no CUDA device", Error);
  CHECK_THROWS_WITH_AS(cuda::DeviceGuard{0}, "cuda::DeviceGuard: no CUDA device", Error);
  CHECK_THROWS_WITH_AS(cuda::synchronize(1), "cuda::synchronize: no CUDA device", Error);
  cuda::empty_cache(1);  // nothing cached anywhere: nothing to do
  const cuda::MemoryStats stats = cuda::memory_stats(1);
  CHECK(stats.allocated == 0);
  CHECK(stats.cached == 0);
}
