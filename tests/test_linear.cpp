// linear (PyTorch's F.linear) against a float64 triple loop on random inputs,
// its gradients against the composite matmul(x, weightᵀ) + bias, and every
// error path.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include <cmath>

#include "test_util.h"

using namespace lg;

namespace {

// out[r, o] = sum_i x[r, i] w[o, i] + b[o] over the rows r of x viewed as [rows, in].
std::vector<double> linear_reference(const Tensor& x, const Tensor& w, const Tensor& b) {
  const int64_t out = w.shape()[0], in = w.shape()[1], rows = x.numel() / in;
  std::vector<double> xs = x.to_vector<double>(), ws = w.to_vector<double>();
  std::vector<double> bs = b.defined() ? b.to_vector<double>() : std::vector<double>(out, 0.0);
  std::vector<double> y(rows * out);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double acc = bs[o];
      for (int64_t i = 0; i < in; ++i) acc += xs[r * in + i] * ws[o * in + i];
      y[r * out + o] = acc;
    }
  return y;
}

void check_values(const Tensor& got, const std::vector<double>& want, double tol) {
  std::vector<double> g = got.to_vector<double>();
  REQUIRE(g.size() == want.size());
  double worst = 0;
  for (size_t i = 0; i < g.size(); ++i)
    worst = std::max(worst, std::fabs(g[i] - want[i]) / std::max(1.0, std::fabs(want[i])));
  CHECK(worst <= tol);
}

}  // namespace

TEST_CASE("linear matches a float64 triple loop") {
  manual_seed(11);
  for (DType dt : {kFloat32, kFloat64}) {
    const double tol = dt == kFloat32 ? 1e-5 : 1e-12;
    INFO(dtype_name(dt));
    Tensor x = randn({3, 37, 70}, {.dtype = dt});
    Tensor w = randn({45, 70}, {.dtype = dt});
    Tensor b = randn({45}, {.dtype = dt});
    Tensor y = linear(x, w, b);
    CHECK(y.shape() == Shape{3, 37, 45});
    CHECK(y.dtype() == dt);
    check_values(y, linear_reference(x, w, b), tol);
    check_values(linear(x, w), linear_reference(x, w, Tensor()), tol);
    // non-contiguous input, transposed weight, 1-d input
    Tensor xt = randn({70, 37}, {.dtype = dt}).t();
    Tensor wt = randn({70, 45}, {.dtype = dt}).t();
    check_values(linear(xt, wt, b), linear_reference(xt.contiguous(), wt.contiguous(), b), tol);
    Tensor x1 = randn({70}, {.dtype = dt});
    Tensor y1 = linear(x1, w, b);
    CHECK(y1.shape() == Shape{45});
    check_values(y1, linear_reference(x1, w, b), tol);
  }
}

TEST_CASE("linear of empty inputs and zero in-features") {
  Tensor w = randn({4, 3}), b = randn({4});
  CHECK(linear(randn({0, 3}), w, b).shape() == Shape{0, 4});
  Tensor y = linear(randn({2, 0}), randn({4, 0}), b);
  CHECK(y.shape() == Shape{2, 4});
  CHECK(max(abs(y - b.expand({2, 4}))).item<double>() == 0);  // the bias alone
  CHECK(max(abs(linear(randn({2, 0}), randn({4, 0})))).item<double>() == 0);
}

TEST_CASE("linear gradients match matmul plus bias") {
  manual_seed(12);
  Tensor x = randn({2, 5, 6}, {.requires_grad = true});
  Tensor w = randn({4, 6}, {.requires_grad = true});
  Tensor b = randn({4}, {.requires_grad = true});
  Tensor g = randn({2, 5, 4});
  auto fused = grad({linear(x, w, b)}, {x, w, b}, {}, {g});
  auto composite = grad({matmul(x, w.t()) + b}, {x, w, b}, {}, {g});
  for (size_t i = 0; i < 3; ++i) {
    INFO("input " << i);
    CHECK(fused[i].shape() == composite[i].shape());
    CHECK(max(abs(fused[i] - composite[i])).item<double>() < 1e-5);
  }
  // Only the weight needs a gradient; then only the input (no bias).
  Tensor xc = x.detach();
  CHECK(grad({sum(linear(xc, w, b))}, {w})[0].shape() == Shape{4, 6});
  CHECK(grad({sum(linear(x, w.detach()))}, {x})[0].shape() == Shape{2, 5, 6});
}

TEST_CASE("linear promotes mixed dtypes") {
  Tensor y = linear(randn({2, 3}), randn({4, 3}, {.dtype = kFloat64}), randn({4}));
  CHECK(y.dtype() == kFloat64);
}

TEST_CASE("linear rejects bad operands naming the op and shapes") {
  Tensor x = randn({2, 3}), w = randn({4, 3}), b = randn({4});
  CHECK_ERROR(linear(x, randn({4, 5})), "linear", "[2,3]", "[4,5]");
  CHECK_ERROR(linear(x, randn({3})), "linear", "weight", "[3]");
  CHECK_ERROR(linear(randn({}), w), "linear", "[4,3]");
  CHECK_ERROR(linear(x, w, randn({5})), "linear", "bias", "[5]");
  CHECK_ERROR(linear(x, w, randn({1, 4})), "linear", "bias", "[1,4]");
  CHECK_ERROR(linear(Tensor(), w), "linear");
  CHECK_ERROR(linear(x, Tensor()), "linear");
  CHECK_ERROR(linear(tensor(std::vector<int64_t>{1, 2, 3}, {1, 3}),
                     tensor(std::vector<int64_t>{1, 2, 3}, {1, 3})),
              "linear", "floating", "int64");
}

TEST_CASE("allow_tf32 is off by default, round-trips, and leaves CPU products as they are") {
  CHECK_FALSE(allow_tf32());
  Tensor x = randn({5, 7}), w = randn({3, 7}), b = randn({7, 4});
  const std::vector<float> linear_off = linear(x, w).to_vector<float>();
  const std::vector<float> matmul_off = matmul(x, b).to_vector<float>();
  set_allow_tf32(true);
  CHECK(allow_tf32());
  const std::vector<float> linear_on = linear(x, w).to_vector<float>();
  const std::vector<float> matmul_on = matmul(x, b).to_vector<float>();
  set_allow_tf32(false);
  CHECK_FALSE(allow_tf32());
  CHECK(linear_on == linear_off);
  CHECK(matmul_on == matmul_off);
}
