// softmax and log_softmax: forward against a float64 reference on random
// inputs along every kind of dim, the fused backward kernels against the
// composite formula, large and -inf inputs, and the error paths.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include "test_util.h"

#include <cmath>
#include <limits>

using namespace lg;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

Tensor rnd(const Shape& shape, DType dtype, double lo = -4, double hi = 4) {
  return random_uniform(shape, dtype, lo, hi);
}

// softmax / log_softmax of row-major values along dim, in long double.
std::vector<double> reference(const std::vector<double>& x, const Shape& shape, int64_t dim,
                              bool log) {
  int64_t outer = 1, n = shape[dim], inner = 1;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    if (d < dim) outer *= shape[d];
    if (d > dim) inner *= shape[d];
  }
  std::vector<double> y(x.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      auto at = [&](int64_t i) { return (o * n + i) * inner + j; };
      long double m = -kInf, s = 0;
      for (int64_t i = 0; i < n; ++i) m = std::max<long double>(m, x[at(i)]);
      for (int64_t i = 0; i < n; ++i) s += m == -kInf ? 0 : std::exp(x[at(i)] - m);
      for (int64_t i = 0; i < n; ++i) {
        long double v = m == -kInf ? 0
                        : log      ? x[at(i)] - m - std::log(s)
                                   : std::exp(x[at(i)] - m) / s;
        y[at(i)] = static_cast<double>(v);
      }
    }
  return y;
}


Tensor apply(const Tensor& x, int64_t dim, bool log) {
  return log ? log_softmax(x, dim) : softmax(x, dim);
}

// x's gradient of sum(op(x) * w) by the fused kernel (plain backward) and by
// the composite formula (create_graph runs the composite).
std::pair<Tensor, Tensor> fused_and_composite_grads(const Tensor& x0, const Tensor& w, int64_t dim,
                                                    bool log) {
  Tensor x = x0.detach().requires_grad_(true);
  Tensor fused = grad({sum(apply(x, dim, log) * w)}, {x})[0];
  Tensor composite = grad({sum(apply(x, dim, log) * w)}, {x}, {.create_graph = true})[0];
  return {fused, composite.detach()};
}

}  // namespace

TEST_CASE("softmax and log_softmax match a float64 reference along every dim") {
  manual_seed(7);
  struct Case {
    Shape shape;
    int64_t dim;
  };
  std::vector<Case> cases = {{{5, 7}, -1},     {{3, 4, 6}, 1},  {{6, 5}, 0},
                             {{2, 3, 130}, 1}, {{4, 1000}, -1}, {{9}, 0},
                             {{2, 70, 3}, 2},  {{3, 1, 4}, 1},  {{64, 300}, 0}};
  for (DType dtype : {kFloat32, kFloat64})
    for (const Case& c : cases)
      for (bool log : {false, true}) {
        INFO(std::string(dtype_name(dtype))
             << " " << shape_str(c.shape) << " dim " << c.dim << " log " << log);
        Tensor x = rnd(c.shape, dtype);
        int64_t d = wrap_dim(c.dim, x.dim(), "test");
        auto want = reference(x.to_vector<double>(), c.shape, d, log);
        Tensor y = apply(x, c.dim, log);
        CHECK(y.dtype() == dtype);
        CHECK(y.shape() == c.shape);
        check_close(y, want, dtype == kFloat32 ? 2e-6 : 1e-13);
      }
}

TEST_CASE("softmax of a non-contiguous input equals that of its contiguous copy") {
  manual_seed(8);
  Tensor base = rnd({6, 5, 4}, kFloat64);
  Tensor x = base.permute({2, 0, 1});  // [4,6,5], non-contiguous
  REQUIRE_FALSE(x.is_contiguous());
  for (int64_t dim : {0, 1, 2})
    for (bool log : {false, true}) {
      auto want = reference(x.contiguous().to_vector<double>(), x.shape(), dim, log);
      check_close(apply(x, dim, log), want, 1e-13);
    }
}

TEST_CASE("softmax of a 0-d tensor is 1 and of an empty tensor is empty") {
  CHECK(softmax(full({}, 3.0), 0).item<double>() == 1.0);
  CHECK(log_softmax(full({}, 3.0), -1).item<double>() == 0.0);
  CHECK(softmax(zeros({0, 4}), 1).shape() == Shape{0, 4});
  CHECK(log_softmax(zeros({3, 0}), 1).numel() == 0);
}

TEST_CASE("the fused backward kernels match the composite formula on random inputs") {
  manual_seed(9);
  struct Case {
    Shape shape;
    int64_t dim;
  };
  std::vector<Case> cases = {
      {{4, 9}, -1}, {{3, 5, 70}, 1}, {{8, 3}, 0}, {{2, 2, 513}, 2}, {{300, 40}, 1}};
  for (DType dtype : {kFloat32, kFloat64})
    for (const Case& c : cases)
      for (bool log : {false, true}) {
        INFO(std::string(dtype_name(dtype))
             << " " << shape_str(c.shape) << " dim " << c.dim << " log " << log);
        Tensor x = rnd(c.shape, dtype);
        Tensor w = rnd(c.shape, dtype);
        auto [fused, composite] = fused_and_composite_grads(x, w, c.dim, log);
        check_close(fused, composite.to_vector<double>(), dtype == kFloat32 ? 1e-5 : 1e-12);
      }
}

TEST_CASE("the softmax nodes declare a fused backward") {
  Tensor x = randn({2, 3}, {.requires_grad = true});
  CHECK(softmax(x, 1).grad_fn()->has_fused_backward());
  CHECK(log_softmax(x, 1).grad_fn()->has_fused_backward());
  CHECK(softmax(x, 1).grad_fn()->name() == "softmax");
}

TEST_CASE("inputs near +-1e4 do not overflow") {
  manual_seed(10);
  for (DType dtype : {kFloat32, kFloat64})
    for (double scale : {1e4, -1e4}) {
      Tensor x = rnd({5, 33}, kFloat64, scale - 30, scale + 30).to(dtype);
      for (int64_t dim : {0, 1})
        for (bool log : {false, true}) {
          INFO(std::string(dtype_name(dtype)) << " " << scale << " dim " << dim << " log " << log);
          Tensor y = apply(x, dim, log);
          CHECK(y.all_finite());
          auto want = reference(x.to_vector<double>(), x.shape(), dim, log);
          check_close(y, want, dtype == kFloat32 ? 2e-6 : 1e-12);
          auto [fused, composite] = fused_and_composite_grads(x, rnd(x.shape(), dtype), dim, log);
          CHECK(fused.all_finite());
          check_close(fused, composite.to_vector<double>(), dtype == kFloat32 ? 1e-5 : 1e-11);
        }
    }
}

TEST_CASE("-inf entries get probability 0 and a row of only -inf gives 0 with gradient 0") {
  for (DType dtype : {kFloat32, kFloat64})
    for (bool log : {false, true})
      for (int64_t dim : {1, 0}) {
        INFO(std::string(dtype_name(dtype)) << " log " << log << " dim " << dim);
        // Rows along dim 1: [-inf row, one -inf entry, ordinary]; dim 0 sees the transpose.
        std::vector<double> v = {-kInf, -kInf, -kInf, -kInf, 1.0, -kInf,
                                 2.0,   0.5,   0.3,   -1.0,  2.0, 1.5};
        Tensor x = from_vector(v, {3, 4}).to(dtype);
        if (dim == 0) x = x.t().contiguous();
        Tensor y = apply(x, dim, log);
        auto want = reference(x.to_vector<double>(), x.shape(), dim, log);
        check_close(y, want, 1e-6);
        Tensor masked = dim == 1 ? y.select(0, 0) : y.select(1, 0);
        CHECK(masked.to_vector<double>() == std::vector<double>(4, 0.0));

        Tensor w = from_vector(std::vector<double>{0.3, -1.2, 2.0, 0.7, 1.1, -0.4, 0.9, 0.2, -0.6,
                                                   1.3, 0.8, -2.1},
                               x.shape())
                       .to(dtype);
        auto [fused, composite] = fused_and_composite_grads(x, w, dim, log);
        CHECK(fused.all_finite());
        check_close(fused, composite.to_vector<double>(), 1e-6);
        Tensor masked_grad = dim == 1 ? fused.select(0, 0) : fused.select(1, 0);
        CHECK(masked_grad.to_vector<double>() == std::vector<double>(4, 0.0));
      }
}

TEST_CASE("softmax and log_softmax pass gradcheck and gradgradcheck on a wider row") {
  manual_seed(11);
  Tensor x = randn({2, 40}, {.dtype = kFloat64, .requires_grad = true});
  for (bool log : {false, true}) {
    auto fn = [log](const std::vector<Tensor>& in) { return apply(in[0] * 3.0, -1, log); };
    GradcheckResult r = gradcheck(fn, {x});
    CHECK_MESSAGE(r.ok, r.message);
    GradcheckResult rr = gradgradcheck(fn, {x});
    CHECK_MESSAGE(rr.ok, rr.message);
  }
}

TEST_CASE("softmax errors name the op and the operand") {
  CHECK_THROWS_WITH_AS(softmax(arange(6).reshape({2, 3}), 1),
                       doctest::Contains("softmax: needs a floating-point tensor, got int64[2,3]"),
                       Error);
  CHECK_THROWS_WITH_AS(log_softmax(zeros({2, 3}), 2),
                       doctest::Contains("log_softmax: dimension 2 out of range for a 2-d tensor"),
                       Error);
  CHECK_THROWS_WITH_AS(softmax(zeros({2}), -2), doctest::Contains("softmax: dimension -2"), Error);
  CHECK_THROWS_WITH_AS(softmax(Tensor(), 0), doctest::Contains("softmax: input is an undefined"),
                       Error);
}
