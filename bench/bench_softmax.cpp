// lg-bench softmax: softmax over the last dim, forward and forward+backward.
#include "bench_util.h"

namespace lg::bench {
namespace {

Tensor composite_softmax(const Tensor& x) {
  Tensor e = exp(x - max(x, -1, true).detach());
  return e / sum(e, -1, true);
}

void run(const Common& common, int64_t rows, const std::vector<int64_t>& cols_list) {
  for (int64_t cols : cols_list) {
    Shape shape{rows, cols};
    Tensor x = randn(shape, {.device = common.target(), .requires_grad = true});
    Tensor g = randn(shape, {.device = common.target()});
    double fwd = median_ms([&] {
      NoGradGuard no_grad;
      composite_softmax(x);
    }, common);
    report({.bench = "softmax", .impl = "composite", .shape = shape_string(shape),
            .pass = "fwd", .median_ms = fwd});
    double both = median_ms([&] {
      backward({composite_softmax(x)}, {g});
      x.zero_grad();
    }, common);
    report({.bench = "softmax", .impl = "composite", .shape = shape_string(shape),
            .pass = "fwd+bwd", .median_ms = both});
  }
}

}  // namespace

Runner setup_softmax(CLI::App& cmd) {
  auto rows = std::make_shared<int64_t>(4096);
  auto cols = std::make_shared<std::vector<int64_t>>(std::vector<int64_t>{64, 1024, 8192});
  cmd.add_option("--rows", *rows, "Rows of the softmax input")->capture_default_str();
  cmd.add_option("--cols", *cols, "Row lengths to time")->capture_default_str();
  return [rows, cols](const Common& common) { run(common, *rows, *cols); };
}

}  // namespace lg::bench
