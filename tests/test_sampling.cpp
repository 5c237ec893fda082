// The sampling helpers: multinomial frequencies over many draws, with and
// without replacement, reproducibility under manual_seed; topk against a
// sort-based reference, its gradient, and every error path.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include "test_util.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

using namespace lg;

namespace {

Tensor rnd(const Shape& shape, DType dtype = kFloat64, double lo = -2, double hi = 2) {
  return random_uniform(shape, dtype, lo, hi);
}

// Frequency of each category among the draws (any shape, values in [0, C)).
std::vector<double> frequencies(const Tensor& draws, int64_t C) {
  std::vector<double> f(C, 0);
  std::vector<int64_t> v = draws.to_vector<int64_t>();
  for (int64_t d : v) {
    REQUIRE(d >= 0);
    REQUIRE(d < C);
    f[d] += 1.0 / static_cast<double>(v.size());
  }
  return f;
}

}  // namespace

TEST_CASE("multinomial with replacement draws each category at its probability") {
  manual_seed(41);
  // Unnormalised weights, with a zero that must never be drawn.
  std::vector<double> w = {1, 2, 0, 3, 4};
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor p = from_vector(w).to(dtype);
    Tensor draws = multinomial(p, 40000, /*replacement=*/true);
    CHECK(draws.shape() == Shape{40000});
    CHECK(draws.dtype() == kInt64);
    std::vector<double> f = frequencies(draws, 5);
    CHECK(f[2] == 0);
    for (int64_t c = 0; c < 5; ++c) CHECK(std::fabs(f[c] - w[c] / 10) < 0.01);
  }
  // 2-d: each row follows its own distribution.
  Tensor rows =
      from_vector(std::vector<double>{0.7, 0.3, 0, 0, 0.5, 0.5}, {2, 3}).t().contiguous().t();
  Tensor draws = multinomial(rows, 20000, true);
  CHECK(draws.shape() == Shape{2, 20000});
  std::vector<double> f0 = frequencies(draws.select(0, 0), 3),
                      f1 = frequencies(draws.select(0, 1), 3);
  CHECK(std::fabs(f0[0] - 0.7) < 0.015);
  CHECK(f0[2] == 0);
  CHECK(f1[0] == 0);
  CHECK(std::fabs(f1[1] - 0.5) < 0.015);
}

TEST_CASE("multinomial without replacement draws distinct categories with the right odds") {
  manual_seed(42);
  // Every row draws all its categories once: a permutation.
  Tensor perm = multinomial(rand({50, 6}) + 0.1, 6);
  for (int64_t r = 0; r < 50; ++r) {
    std::vector<int64_t> row = perm.select(0, r).to_vector<int64_t>();
    CHECK(std::set<int64_t>(row.begin(), row.end()).size() == 6);
  }
  // Two draws from {0.5, 0.3, 0.2} in 20000 independent rows: the second draw
  // has P(j) = sum over i != j of p_i p_j / (1 - p_i).
  std::vector<double> p = {0.5, 0.3, 0.2};
  Tensor probs = from_vector(p, {1, 3}).expand({20000, 3});
  Tensor draws = multinomial(probs, 2);
  CHECK(draws.shape() == Shape{20000, 2});
  std::vector<double> first = frequencies(draws.select(1, 0), 3);
  std::vector<double> second = frequencies(draws.select(1, 1), 3);
  std::vector<int64_t> v = draws.to_vector<int64_t>();
  for (size_t i = 0; i < v.size(); i += 2) REQUIRE(v[i] != v[i + 1]);
  for (int64_t j = 0; j < 3; ++j) {
    double want = 0;
    for (int64_t i = 0; i < 3; ++i)
      if (i != j) want += p[i] * p[j] / (1 - p[i]);
    CHECK(std::fabs(first[j] - p[j]) < 0.015);
    CHECK(std::fabs(second[j] - want) < 0.015);
  }
  // A zero-probability category is never drawn while others remain.
  Tensor sparse = from_vector(std::vector<float>{0, 1, 0, 1});
  for (int i = 0; i < 20; ++i) {
    std::vector<int64_t> d = multinomial(sparse, 2).to_vector<int64_t>();
    std::sort(d.begin(), d.end());
    CHECK(d == std::vector<int64_t>{1, 3});
  }
}

TEST_CASE("multinomial is reproducible under manual_seed, for any thread count") {
  Tensor probs = rand({300, 50}) + 0.01;
  manual_seed(7);
  std::vector<int64_t> a = multinomial(probs, 20, true).to_vector<int64_t>();
  std::vector<int64_t> a2 = multinomial(probs, 20, true).to_vector<int64_t>();
  int threads = get_num_threads();
  set_num_threads(1);
  manual_seed(7);
  std::vector<int64_t> b = multinomial(probs, 20, true).to_vector<int64_t>();
  set_num_threads(threads);
  CHECK(a == b);
  CHECK(a != a2);  // the generator moves on
  manual_seed(8);
  CHECK(multinomial(probs, 20, true).to_vector<int64_t>() != a);
}

TEST_CASE("topk matches a sort-based reference along every dim") {
  manual_seed(43);
  for (DType dtype : {kFloat32, kFloat64, kInt64}) {
    Tensor base = rnd({4, 6, 5}, kFloat64, -100, 100).to(dtype);
    for (Tensor x : {base, base.permute({1, 2, 0})}) {
      for (int64_t dim = 0; dim < 3; ++dim) {
        for (bool largest : {true, false}) {
          int64_t n = x.shape()[dim];
          for (int64_t k : {int64_t{0}, int64_t{1}, int64_t{3}, n}) {
            CAPTURE(dim);
            CAPTURE(k);
            CAPTURE(largest);
            TopK r = topk(x, k, dim - 3, largest);
            Shape want_shape = x.shape();
            want_shape[dim] = k;
            REQUIRE(r.values.shape() == want_shape);
            REQUIRE(r.indices.shape() == want_shape);
            CHECK(r.values.dtype() == dtype);
            CHECK(r.indices.dtype() == kInt64);
            // Reference: each line along dim, sorted with its indices.
            Tensor xl = x.transpose(dim, -1).contiguous();
            Tensor vl = r.values.transpose(dim, -1).contiguous();
            Tensor il = r.indices.transpose(dim, -1).contiguous();
            std::vector<double> xv = xl.to_vector<double>(), vv = vl.to_vector<double>();
            std::vector<int64_t> iv = il.to_vector<int64_t>();
            for (int64_t row = 0; row < xl.numel() / n; ++row) {
              std::vector<int64_t> order(n);
              std::iota(order.begin(), order.end(), 0);
              std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
                double va = xv[row * n + a], vb = xv[row * n + b];
                return largest ? va > vb : va < vb;
              });
              for (int64_t j = 0; j < k; ++j) {
                CHECK(iv[row * k + j] == order[j]);
                CHECK(vv[row * k + j] == xv[row * n + order[j]]);
              }
            }
          }
        }
      }
    }
  }
}

TEST_CASE("topk ranks NaN highest, breaks ties by index, and handles 0-d") {
  Tensor x = from_vector(std::vector<double>{3, NAN, 1, 3, -1});
  TopK hi = topk(x, 3);
  CHECK(hi.indices.to_vector<int64_t>() == std::vector<int64_t>{1, 0, 3});
  TopK lo = topk(x, 2, 0, /*largest=*/false);
  CHECK(lo.indices.to_vector<int64_t>() == std::vector<int64_t>{4, 2});
  CHECK(lo.values.to_vector<double>() == std::vector<double>{-1, 1});
  TopK s = topk(full({}, 2.0), 1);
  CHECK(s.values.dim() == 0);
  CHECK(s.indices.item<int64_t>() == 0);
  CHECK(topk(x, 2, 0, true, /*sorted=*/false).indices.to_vector<int64_t>().size() == 2);
}

TEST_CASE("topk values carry the gradient back to the selected elements") {
  Tensor x = from_vector(std::vector<double>{0.5, 2, -1, 4, 3, 1}, {2, 3}).requires_grad_();
  TopK r = topk(x, 2, 1);
  CHECK(r.indices.to_vector<int64_t>() == std::vector<int64_t>{1, 0, 0, 1});
  sum(r.values * from_vector(std::vector<double>{10, 20, 30, 40}, {2, 2})).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{20, 10, 0, 30, 40, 0});
  CHECK(!r.indices.requires_grad());
}

TEST_CASE("sampling errors name the op and the operands") {
  Tensor p = from_vector(std::vector<double>{0.2, 0.8});
  CHECK_ERROR(multinomial(rand({2, 2, 2}), 1), "multinomial", "1-d or 2-d", "float32[2,2,2]");
  CHECK_ERROR(multinomial(from_vector(std::vector<int64_t>{1, 2}), 1), "multinomial", "floating",
              "int64[2]");
  CHECK_ERROR(multinomial(from_vector(std::vector<double>{0.5, -0.1}), 1), "multinomial",
              "negative", "float64[2]");
  CHECK_ERROR(multinomial(from_vector(std::vector<double>{0.5, NAN}), 1), "multinomial", "NaN");
  CHECK_ERROR(multinomial(from_vector(std::vector<double>{0.5, INFINITY}), 1), "multinomial",
              "Inf");
  CHECK_ERROR(multinomial(from_vector(std::vector<double>{1, 1, 0, 0}, {2, 2}), 1), "multinomial",
              "sums to 0", "float64[2,2]");
  CHECK_ERROR(multinomial(p, 3), "multinomial", "3 samples without replacement", "2 categories");
  CHECK_ERROR(multinomial(from_vector(std::vector<double>{0, 1, 0}), 2), "multinomial",
              "fewer than 2", "non-zero");
  CHECK_ERROR(multinomial(p, 0), "multinomial", "num_samples", "positive");
  CHECK_ERROR(multinomial(zeros({2, 0}), 1), "multinomial", "no categories");
  CHECK_ERROR(multinomial(Tensor(), 1), "multinomial", "undefined");
  Tensor x = randn({3, 4});
  CHECK_ERROR(topk(x, 5), "topk", "k = 5", "size 4", "float32[3,4]");
  CHECK_ERROR(topk(x, -1), "topk", "k = -1");
  CHECK_ERROR(topk(x, 1, 2), "topk", "dimension 2 out of range");
  CHECK_ERROR(topk(gt(x, 0), 1), "topk", "bool");
  CHECK_ERROR(topk(Tensor(), 1), "topk", "undefined");
}

TEST_CASE("multinomial without replacement draws distinct categories for huge equal weights") {
  // Running sums of such weights overflow to inf, which once sent every draw
  // to the last category.
  manual_seed(3);
  const int64_t C = 64;
  for (const Tensor& probs : {full({4, C}, 1e300, {.dtype = kFloat64}),
                              full({4, C}, std::numeric_limits<double>::max(), {.dtype = kFloat64}),
                              full({4, C}, std::numeric_limits<float>::max())}) {
    INFO("probs " << probs.describe());
    std::vector<int64_t> v = multinomial(probs, C).to_vector<int64_t>();
    for (int64_t r = 0; r < 4; ++r)
      CHECK(std::set<int64_t>(v.begin() + r * C, v.begin() + (r + 1) * C).size() == C);
  }
  // With replacement the draws stay uniform over such weights.
  Tensor uniform = full({4}, std::numeric_limits<double>::max(), {.dtype = kFloat64});
  for (double f : frequencies(multinomial(uniform, 8000, true), 4))
    CHECK(std::fabs(f - 0.25) < 0.03);
  // Weights 600 orders of magnitude apart: every positive one is drawn before a zero one.
  Tensor spread = from_vector(std::vector<double>{1e-300, 0, 1e300, 0, 1e-300});
  for (int i = 0; i < 10; ++i) {
    std::vector<int64_t> d = multinomial(spread, 3).to_vector<int64_t>();
    CHECK(d[0] == 2);
    std::sort(d.begin(), d.end());
    CHECK(d == std::vector<int64_t>{0, 2, 4});
  }
}
