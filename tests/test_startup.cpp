// What a program linking lasergrad starts with: a short OpenMP spin
// (runtime/openmp_startup.cpp) unless the user chose how OpenMP waits, and
// the environment it was given, unchanged.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include <cstdlib>
#include <string>

using namespace lg;

// ctest also runs this case with OMP_WAIT_POLICY=passive, with
// LG_KEEP_OMP_WAIT=1, and with OMP_DISPLAY_ENV=verbose (where libgomp must
// print the spin count lasergrad chose).
TEST_CASE("programs start with lasergrad's OpenMP spin unless the user chose one") {
  const std::string policy = openmp_wait_policy();
  INFO("openmp_wait_policy: " << policy);
  if (const char* user = std::getenv("OMP_WAIT_POLICY")) {
    CHECK(policy == "OMP_WAIT_POLICY=" + std::string(user) + " (environment)");
  } else if (std::getenv("LG_KEEP_OMP_WAIT")) {
    CHECK(policy == "libgomp's default");
  } else {
    CHECK(policy == "GOMP_SPINCOUNT=" LG_TEST_OMP_SPIN_COUNT " (lasergrad's start-up)");
    // libgomp has read it; the program sees the environment it was started with.
    CHECK(std::getenv("GOMP_SPINCOUNT") == nullptr);
    CHECK(std::getenv("LG_OMP_SPIN_SET") == nullptr);
  }
}
