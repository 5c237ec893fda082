// lg-bench layer_norm: the fused layer_norm kernels (forward saving mean and
// rstd; one backward pass for dx, dweight, dbias) against layer_norm_composite
// (the same maths in primitive ops, with autograd's backward).
#include "bench_util.h"

namespace lg::bench {
namespace {

using LayerNormFn = Tensor (*)(const Tensor&, const Shape&, const Tensor&, const Tensor&, double);

void time_layer_norm(const Common& common, const char* impl, const char* baseline,
                     const Shape& shape, LayerNormFn fn) {
  const Shape norm{shape.back()};
  // On the device, the float32 bytes a pass must move: x in and y out; the
  // backward reads x and the gradient and writes dx (weights are negligible).
  const double n = common.target().is_cuda() ? 4.0 * static_cast<double>(shape[0] * shape[1]) : 0;
  Tensor x = randn(shape, {.device = common.target(), .requires_grad = true});
  Tensor w = randn(norm, {.device = common.target(), .requires_grad = true});
  Tensor b = randn(norm, {.device = common.target(), .requires_grad = true});
  Tensor g = randn(shape, {.device = common.target()});
  double fwd = median_ms(
      [&] {
        NoGradGuard no_grad;
        fn(x, norm, w, b, 1e-5);
      },
      common);
  report({.bench = "layer_norm",
          .impl = impl,
          .shape = shape_string(shape),
          .pass = "fwd",
          .median_ms = fwd,
          .baseline = baseline,
          .bytes = 2 * n});
  double both = median_ms(
      [&] {
        backward({fn(x, norm, w, b, 1e-5)}, {g});
        x.zero_grad();
        w.zero_grad();
        b.zero_grad();
      },
      common);
  report({.bench = "layer_norm",
          .impl = impl,
          .shape = shape_string(shape),
          .pass = "fwd+bwd",
          .median_ms = both,
          .baseline = baseline,
          .bytes = 5 * n});
}

void run(const Common& common, int64_t rows, const std::vector<int64_t>& cols_list) {
  for (int64_t cols : cols_list) {
    const Shape shape{rows, cols};
    {  // benchmarks validate before they time
      NoGradGuard no_grad;
      Tensor x = randn(shape, {.device = common.target()});
      Tensor w = randn({cols}, {.device = common.target()});
      Tensor b = randn({cols}, {.device = common.target()});
      double err = max(abs(layer_norm(x, {cols}, w, b) - layer_norm_composite(x, {cols}, w, b)))
                       .item<double>();
      LG_CHECK(err < 1e-4, "lg-bench layer_norm ", shape_string(shape),
               ": fused and composite differ by ", err);
    }
    time_layer_norm(common, "composite", "", shape, layer_norm_composite);
    time_layer_norm(common, "fused", "composite", shape, layer_norm);
  }
}

}  // namespace

Runner setup_layer_norm(CLI::App& cmd) {
  auto rows = std::make_shared<int64_t>(4096);
  auto cols = std::make_shared<std::vector<int64_t>>(std::vector<int64_t>{64, 768, 4096});
  cmd.add_option("--rows", *rows, "Rows (batch x time) of the input")->capture_default_str();
  cmd.add_option("--cols", *cols, "Normalised sizes to time")->capture_default_str();
  return [rows, cols](const Common& common) { run(common, *rows, *cols); };
}

}  // namespace lg::bench
