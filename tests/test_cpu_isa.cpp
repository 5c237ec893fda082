// The CPU vector path (lg::cpu_isa): what this CPU supports, choosing a lower
// one, LG_CPU_ISA at start-up, and the errors for paths it lacks. The kernels'
// results on each path are tested beside the kernels (for_each_cpu_isa).
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "test_util.h"

using namespace lg;

TEST_CASE("supported_cpu_isas lists this CPU's paths best first, ending in baseline") {
  const std::vector<std::string> paths = supported_cpu_isas();
  REQUIRE(!paths.empty());
  CHECK(paths.back() == "baseline");
  const std::vector<std::string> order = {"avx512", "avx2", "baseline"};
  // A suffix of the full order: a CPU with AVX-512 has AVX2 too.
  CHECK(std::equal(paths.rbegin(), paths.rend(), order.rbegin()));
  CHECK(std::find(paths.begin(), paths.end(), std::string(cpu_isa())) != paths.end());
}

TEST_CASE("set_cpu_isa switches to any supported path and back with \"best\"") {
  const std::string before = cpu_isa();
  for (const std::string& path : supported_cpu_isas()) {
    set_cpu_isa(path);
    CHECK(std::string(cpu_isa()) == path);
    Tensor x = randn({1000});
    check_close(exp(x), exp(x.to(kFloat64)).to_vector<double>(), 1e-6);  // runs the path
  }
  set_cpu_isa("best");
  CHECK(std::string(cpu_isa()) == supported_cpu_isas().front());
  set_cpu_isa(before);
}

TEST_CASE("set_cpu_isa refuses unknown names and paths this CPU lacks, naming what it has") {
  const std::string before = cpu_isa();
  CHECK_ERROR(set_cpu_isa("sse9"), "set_cpu_isa: unknown CPU path 'sse9'",
              "avx512, avx2, baseline or best", "this CPU has ");
  const std::vector<std::string> paths = supported_cpu_isas();
  for (const char* path : {"avx512", "avx2"})
    if (std::find(paths.begin(), paths.end(), path) == paths.end()) {
      // A named string: CHECK_ERROR's list of parts would outlive a temporary's c_str().
      const std::string lacks = "set_cpu_isa: this CPU has no " + std::string(path);
      CHECK_ERROR(set_cpu_isa(path), lacks.c_str(), "it supports");
    }
  CHECK(std::string(cpu_isa()) == before);  // a refused choice changes nothing
}

// ctest also runs this case with LG_CPU_ISA=baseline and LG_CPU_ISA=sse9.
TEST_CASE("LG_CPU_ISA chooses the path at start-up, and a bad value is an lg::Error") {
  const char* env = std::getenv("LG_CPU_ISA");
  const std::string want = env ? env : "";
  if (want.empty() || want == "best") {
    CHECK(std::string(cpu_isa()) == supported_cpu_isas().front());
  } else if (want == "sse9") {
    CHECK_ERROR(zeros({2}), "LG_CPU_ISA: unknown CPU path 'sse9'");
    CHECK_ERROR(cpu_isa(), "LG_CPU_ISA: unknown CPU path 'sse9'");
  } else {
    CHECK(std::string(cpu_isa()) == want);
  }
}

TEST_CASE("measure_sgemm_gflops gives a positive rate and leaves the random stream alone") {
  manual_seed(3);
  const RngState before = get_rng_state();
  const std::vector<double> want = randn({4}).to_vector<double>();
  set_rng_state(before);
  CHECK(measure_sgemm_gflops(64, 3) > 0);
  CHECK(randn({4}).to_vector<double>() == want);
  CHECK_ERROR(measure_sgemm_gflops(0, 1), "measure_sgemm_gflops: need n >= 1");
}
