// Training metrics of the example trainers, one row per logged step, written
// to <dir>/metrics.jsonl and <dir>/metrics.csv (and the gradient diagnostics
// to gradients.jsonl/csv) (flushed after every row, so a
// crash loses nothing logged). The first column is always the integer "step";
// a value not measured at a step (validation loss between evaluations) is
// null in JSONL and empty in CSV.
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace examples {

// Peak resident set size of this process in MiB (VmHWM in /proc/self/status);
// 0 where that file is unavailable.
double peak_rss_mb();

// The machine a benchmark ran on, measured in the same run: the CPU's model,
// the CPU vector path in use (lg::cpu_isa), OpenBLAS's kernel set, how idle
// OpenMP threads wait, and the float32 GEMM rate at the current thread count
// (lg::measure_sgemm_gflops, 2048^3; 0 when not measured).
struct BenchMachine {
  std::string cpu, isa, openblas_core, openmp_wait;
  double sgemm_gflops = 0;
};
BenchMachine bench_machine(bool measure_sgemm = true);

// A metrics file could not be written (the disk is full, the file too big):
// the trainer stops, saving a checkpoint where it can.
struct MetricsWriteError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class MetricsWriter {
 public:
  // columns: the names after "step". keep_through_step: continue files written
  // by an earlier run, dropping their rows after that step (a resumed run
  // repeats the steps after its checkpoint); without it, start new files.
  // name: the files' stem ("gradients" writes gradients.jsonl and gradients.csv).
  MetricsWriter(const std::filesystem::path& dir, std::vector<std::string> columns,
                std::optional<int64_t> keep_through_step = std::nullopt,
                std::string name = "metrics");

  // values: one per column, in order. Each row is written and flushed to both
  // files and checked; a failure throws MetricsWriteError naming the file.
  void write(int64_t step, const std::vector<std::optional<double>>& values);

  std::filesystem::path jsonl_path() const { return dir_ / (name_ + ".jsonl"); }
  std::filesystem::path csv_path() const { return dir_ / (name_ + ".csv"); }

 private:
  std::filesystem::path dir_;
  std::string name_;
  std::vector<std::string> columns_;
  std::ofstream jsonl_, csv_;
};

}  // namespace examples
