#include "bench_util.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <tuple>

#include <lasergrad/cuda.h>

namespace lg::bench {

Device Common::target() const {
  if (device == "cpu") return Device::cpu();
  LG_CHECK(device == "cuda", "lg-bench: unknown device '", device, "' (cpu or cuda)");
  return Device::cuda(0);
}

double median_ms(const std::function<void()>& fn, const Common& common) {
  const bool cuda = common.target().is_cuda();
  auto sync = [cuda] {
    if (cuda) cuda::synchronize();
  };
  for (int i = 0; i < common.warmup; ++i) fn();
  std::vector<double> times;
  for (int i = 0; i < std::max(common.runs, 1); ++i) {
    sync();
    auto start = std::chrono::steady_clock::now();
    fn();
    sync();
    auto stop = std::chrono::steady_clock::now();
    times.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
  }
  return median(times);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void report_machine(const Common& common) {
  static bool done = false;
  if (done) return;
  done = true;
  const double gflops = common.device == "cpu" ? measure_sgemm_gflops() : 0.0;
  const std::string cpu = cpu_name(), wait = openmp_wait_policy();
  std::printf(
      "{\"bench\":\"machine\",\"cpu\":\"%s\",\"isa\":\"%s\",\"openblas_core\":\"%s\","
      "\"openmp_wait\":\"%s\",\"threads\":%d,\"sgemm_gflops\":%.1f,\"device\":\"%s\"}\n",
      cpu.c_str(), cpu_isa(), openblas_core(), wait.c_str(), get_num_threads(), gflops,
      common.device.c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "machine: %s; CPU path %s, OpenBLAS %s, %d threads, sgemm %.1f GFLOP/s\n",
               cpu.c_str(), cpu_isa(), openblas_core(), get_num_threads(), gflops);
  std::fprintf(stderr, "OpenMP wait: %s\n", wait.c_str());
}

void report(const Result& r) {
  static std::map<std::tuple<std::string, std::string, std::string, std::string, std::string>,
                  double>
      seen;
  static bool header = false;
  auto key = [&](const std::string& impl) {
    return std::make_tuple(r.bench, impl, r.shape, r.pass, r.dtype);
  };
  seen[key(r.impl)] = r.median_ms;
  char rates[96] = "";
  if (r.median_ms > 0 && r.bytes > 0)
    std::snprintf(rates, sizeof rates, ",\"gb_per_s\":%.2f", r.bytes / (r.median_ms * 1e6));
  else if (r.median_ms > 0 && r.flops > 0)
    std::snprintf(rates, sizeof rates, ",\"tflops\":%.3f", r.flops / (r.median_ms * 1e9));
  std::printf(
      "{\"bench\":\"%s\",\"impl\":\"%s\",\"shape\":\"%s\",\"pass\":\"%s\",\"dtype\":\"%s\","
      "\"median_ms\":%.4f%s}\n",
      r.bench.c_str(), r.impl.c_str(), r.shape.c_str(), r.pass.c_str(), r.dtype.c_str(),
      r.median_ms, rates);
  std::fflush(stdout);
  if (!header) {
    std::fprintf(stderr, "%-14s %-10s %-16s %-8s %-8s %11s  %s\n", "bench", "impl", "shape", "pass",
                 "dtype", "median ms", "speedup");
    header = true;
  }
  std::string ratio;
  auto base = seen.find(key(r.baseline));
  if (!r.baseline.empty() && base != seen.end() && r.median_ms > 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2fx vs %s", base->second / r.median_ms, r.baseline.c_str());
    ratio = buf;
  }
  std::fprintf(stderr, "%-14s %-10s %-16s %-8s %-8s %11.3f  %s\n", r.bench.c_str(), r.impl.c_str(),
               r.shape.c_str(), r.pass.c_str(), r.dtype.c_str(), r.median_ms, ratio.c_str());
}

std::string shape_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace lg::bench
