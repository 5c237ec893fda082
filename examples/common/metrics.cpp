#include "metrics.h"

#include <lasergrad/runtime.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "files.h"

namespace examples {

BenchMachine bench_machine(bool measure_sgemm) {
  return {lg::cpu_name(), lg::cpu_isa(), lg::openblas_core(), lg::openmp_wait_policy(),
          measure_sgemm ? lg::measure_sgemm_gflops() : 0.0};
}

namespace {

std::string number(double v) {
  if (!std::isfinite(v)) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.8g", v);
  return buf;
}

// The step a row starts with: `{"step":N,` in JSONL, `N,` in CSV; -1 for a header.
int64_t row_step(const std::string& line) {
  long long step = -1;
  if (std::sscanf(line.c_str(), "{\"step\":%lld", &step) == 1) return step;
  if (std::sscanf(line.c_str(), "%lld,", &step) == 1) return step;
  return -1;
}

// Keeps the header and the rows up to keep_through, in a file of an earlier run.
std::string kept_rows(const std::filesystem::path& path, int64_t keep_through, bool* had_header) {
  *had_header = false;
  if (!std::filesystem::exists(path)) return {};
  std::string text = read_file(path), kept;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) break;  // a torn last line is dropped
    std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    int64_t step = row_step(line);
    if (step < 0 && line.rfind("step,", 0) == 0) *had_header = true;
    if ((step < 0 && line.rfind("step,", 0) == 0) || (step >= 0 && step <= keep_through))
      kept += line + '\n';
  }
  return kept;
}

// Writes and flushes text, so that a full disk is seen at the row it happened.
void put(std::ofstream& out, const std::filesystem::path& path, const std::string& text,
         const std::string& what) {
  errno = 0;
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.flush();
  if (out) return;
  const int err = errno;
  throw MetricsWriteError(path.string() + ": cannot write " + what +
                          (err != 0 ? std::string(": ") + std::strerror(err) : std::string()));
}

}  // namespace

double peak_rss_mb() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  double kib = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    long long value = 0;
    if (std::sscanf(line, "VmHWM: %lld kB", &value) == 1) {
      kib = static_cast<double>(value);
      break;
    }
  }
  std::fclose(f);
  return kib / 1024.0;
}

MetricsWriter::MetricsWriter(const std::filesystem::path& dir, std::vector<std::string> columns,
                             std::optional<int64_t> keep_through_step, std::string name)
    : dir_(dir), name_(std::move(name)), columns_(std::move(columns)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw std::runtime_error(dir_.string() + ": " + ec.message());
  bool csv_header = false, jsonl_unused = false;
  if (keep_through_step) {
    // Rewritten atomically first, so that an interrupted resume keeps the old rows.
    write_file_atomically(jsonl_path(), kept_rows(jsonl_path(), *keep_through_step, &jsonl_unused));
    write_file_atomically(csv_path(), kept_rows(csv_path(), *keep_through_step, &csv_header));
  }
  const auto mode = keep_through_step ? std::ios::app : std::ios::trunc;
  jsonl_.open(jsonl_path(), std::ios::out | mode);
  csv_.open(csv_path(), std::ios::out | mode);
  if (!jsonl_ || !csv_)
    throw std::runtime_error(dir_.string() + ": cannot write " + jsonl_path().filename().string() +
                             " and " + csv_path().filename().string());
  if (!csv_header) {
    std::string header = "step";
    for (const std::string& c : columns_) header += ',' + c;
    put(csv_, csv_path(), header + '\n', "the header");
  }
}

void MetricsWriter::write(int64_t step, const std::vector<std::optional<double>>& values) {
  if (values.size() != columns_.size())
    throw std::logic_error("MetricsWriter::write: " + std::to_string(values.size()) +
                           " values for " + std::to_string(columns_.size()) + " columns");
  std::string json = "{\"step\":" + std::to_string(step), csv = std::to_string(step);
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string v = values[i] ? number(*values[i]) : "";
    json += ",\"" + columns_[i] + "\":" + (v.empty() ? "null" : v);
    csv += ',' + v;
  }
  const std::string what = "the row of step " + std::to_string(step);
  put(jsonl_, jsonl_path(), json + "}\n", what);
  put(csv_, csv_path(), csv + '\n', what);
}

}  // namespace examples
