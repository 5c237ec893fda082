// Shared helpers for the lg-bench subcommands: timing (warm-up, then the
// median of N runs) and reporting (one JSON line per result on stdout for
// machines, a table with the speedup over the baseline on stderr for people).
#pragma once
#include <lasergrad/lasergrad.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace lg::bench {

// Options every subcommand honours (given before or after the subcommand).
struct Common {
  int warmup = 3;
  int runs = 10;
  int threads = 0;  // 0: OpenMP's default
  std::string device = "cpu";
  std::string cpu_isa = "";  // empty: LG_CPU_ISA's, or the best the CPU has
  Device target() const;
};

// A subcommand adds its own options to `cmd` and returns what runs it; the
// options it binds must outlive the call (capture them by shared_ptr).
using Runner = std::function<void(const Common&)>;
using Setup = Runner (*)(CLI::App& cmd);

// The median of v (the mean of the middle two for an even count); 0 when empty.
double median(std::vector<double> v);

// Prints the machine the figures come from, once, before the first result: a
// JSON line {"bench":"machine", cpu, isa (the CPU path in use), openblas_core,
// openmp_wait, threads, sgemm_gflops (a 2048^3 float32 matmul at this thread
// count, best of 5; 0 with --device cuda), device} and a line on stderr.
// Every ratio a benchmark prints is against a baseline measured in the same run.
void report_machine(const Common& common);

// Median wall time of fn in milliseconds (steady_clock), after `warmup`
// untimed calls; waits for the device (lg::cuda::synchronize) before the
// clock starts and after each call, so that asynchronous backends are timed fully.
double median_ms(const std::function<void()>& fn, const Common& common);

struct Result {
  std::string bench = "";  // the op, e.g. "softmax"
  std::string impl = "";   // e.g. "fused", "composite"
  std::string shape = "";  // e.g. "[4096,1024]"
  std::string pass = "";   // "fwd" or "fwd+bwd"
  std::string dtype = "float32";
  double median_ms = 0;
  std::string baseline = "";  // impl to compare against (reported earlier), or empty
  // > 0: the bytes the op must move, or its FLOPs, so that the line also gives
  // "gb_per_s" or "tflops" (the benchmarks set them with --device cuda)
  double bytes = 0;
  double flops = 0;
};

// Prints r as a JSON line on stdout and a table row on stderr, with the
// ratio baseline_ms / median_ms when the baseline row was reported before.
void report(const Result& r);

std::string shape_string(const Shape& shape);

}  // namespace lg::bench
