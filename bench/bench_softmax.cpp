// lg-bench softmax: the fused softmax, log_softmax and cross_entropy kernels
// against their composite formulas (the same maths in primitive ops, with
// autograd's backward), forward and forward+backward.
#include <string>

#include "bench_util.h"

namespace lg::bench {
namespace {

Tensor composite_softmax(const Tensor& x) {
  Tensor e = exp(x - max(x, -1, true).detach());
  return e / sum(e, -1, true);
}

Tensor composite_log_softmax(const Tensor& x) {
  Tensor shifted = x - max(x, -1, true).detach();
  return shifted - log(sum(exp(shifted), -1, true));
}

Tensor composite_cross_entropy(const Tensor& x, const Tensor& target) {
  return nll_loss(composite_log_softmax(x), target);
}

// The float32 bytes a pass must move over `elements` inputs on the device
// (--device cuda; 0 on the CPU): softmax and log_softmax read x and write y,
// and their backward reads y and the gradient and writes dx; cross_entropy
// reads the logits, and its backward reads them again and writes dx.
struct Traffic {
  double fwd = 0, both = 0;
};
Traffic traffic(const Common& common, const char* bench, const Shape& shape) {
  if (!common.target().is_cuda()) return {};
  const double n = 4.0 * static_cast<double>(shape[0] * shape[1]);
  if (std::string(bench) == "cross_entropy") return {n, 3 * n};
  return {2 * n, 5 * n};
}

// Times fn (no graph) and fn + backward, reporting both against `baseline`.
void time_op(const Common& common, const char* bench, const char* impl, const char* baseline,
             const Shape& shape, const std::function<Tensor(const Tensor&)>& fn) {
  const Traffic bytes = traffic(common, bench, shape);
  Tensor x = randn(shape, {.device = common.target(), .requires_grad = true});
  Tensor probe;
  {
    NoGradGuard no_grad;
    probe = fn(x);
  }
  Tensor g = randn(probe.shape(), {.device = common.target()});
  double fwd = median_ms(
      [&] {
        NoGradGuard no_grad;
        fn(x);
      },
      common);
  report({.bench = bench,
          .impl = impl,
          .shape = shape_string(shape),
          .pass = "fwd",
          .median_ms = fwd,
          .baseline = baseline,
          .bytes = bytes.fwd});
  double both = median_ms(
      [&] {
        backward({fn(x)}, {g});
        x.zero_grad();
      },
      common);
  report({.bench = bench,
          .impl = impl,
          .shape = shape_string(shape),
          .pass = "fwd+bwd",
          .median_ms = both,
          .baseline = baseline,
          .bytes = bytes.both});
}

// Benchmarks validate before they time: the fused result must match the composite.
void validate(const char* bench, const Shape& shape, const std::function<Tensor(const Tensor&)>& a,
              const std::function<Tensor(const Tensor&)>& b, const Common& common) {
  NoGradGuard no_grad;
  Tensor x = randn(shape, {.device = common.target()});
  double err = max(abs(a(x) - b(x))).item<double>();
  LG_CHECK(err < 1e-4, "lg-bench ", bench, " ", shape_string(shape),
           ": fused and composite differ by ", err);
}

void run(const Common& common, int64_t rows, const std::vector<int64_t>& cols_list,
         const std::vector<int64_t>& vocabs, int64_t tokens) {
  for (int64_t cols : cols_list) {
    Shape shape{rows, cols};
    validate(
        "softmax", shape, composite_softmax, [](const Tensor& x) { return softmax(x, -1); },
        common);
    validate(
        "log_softmax", shape, composite_log_softmax,
        [](const Tensor& x) { return log_softmax(x, -1); }, common);
    time_op(common, "softmax", "composite", "", shape, composite_softmax);
    time_op(common, "softmax", "fused", "composite", shape,
            [](const Tensor& x) { return softmax(x, -1); });
    time_op(common, "log_softmax", "composite", "", shape, composite_log_softmax);
    time_op(common, "log_softmax", "fused", "composite", shape,
            [](const Tensor& x) { return log_softmax(x, -1); });
  }
  for (int64_t vocab : vocabs) {
    Tensor target;
    {
      NoGradGuard no_grad;
      target =
          (rand({tokens}, {.device = common.target()}) * static_cast<double>(vocab)).to(kInt64);
    }
    Shape shape{tokens, vocab};
    validate(
        "cross_entropy", shape, [&](const Tensor& x) { return composite_cross_entropy(x, target); },
        [&](const Tensor& x) { return cross_entropy(x, target); }, common);
    time_op(common, "cross_entropy", "composite", "", shape,
            [&](const Tensor& x) { return composite_cross_entropy(x, target); });
    time_op(common, "cross_entropy", "fused", "composite", shape,
            [&](const Tensor& x) { return cross_entropy(x, target); });
  }
}

}  // namespace

Runner setup_softmax(CLI::App& cmd) {
  auto rows = std::make_shared<int64_t>(4096);
  auto cols = std::make_shared<std::vector<int64_t>>(std::vector<int64_t>{64, 1024, 8192});
  auto vocabs = std::make_shared<std::vector<int64_t>>(std::vector<int64_t>{96, 8192});
  auto tokens = std::make_shared<int64_t>(8 * 256);
  cmd.add_option("--rows", *rows, "Rows of the softmax input")->capture_default_str();
  cmd.add_option("--cols", *cols, "Row lengths to time")->capture_default_str();
  cmd.add_option("--vocabs", *vocabs, "Class counts for cross_entropy")->capture_default_str();
  cmd.add_option("--tokens", *tokens, "Rows (batch x time) for cross_entropy")
      ->capture_default_str();
  return [rows, cols, vocabs, tokens](const Common& common) {
    run(common, *rows, *cols, *vocabs, *tokens);
  };
}

}  // namespace lg::bench
