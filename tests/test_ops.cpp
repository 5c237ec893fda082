// Forward values of the first ops against simple float64 references on
// random inputs: elementwise with broadcasting, reductions on every layout
// path, matmul on every BLAS layout, cat, argmax/argmin.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <lasergrad/lasergrad.h>

#include "test_util.h"

using namespace lg;

namespace {


double at_broadcast(const std::vector<double>& v, const Shape& shape, const std::vector<int64_t>& out_idx) {
  int64_t flat = 0;
  size_t lead = out_idx.size() - shape.size();
  for (size_t d = 0; d < shape.size(); ++d)
    flat = flat * shape[d] + (shape[d] == 1 ? 0 : out_idx[lead + d]);
  return v[flat];
}

// Every element within tol (relative, absolute near 0); exact when tol == 0.

Tensor rnd(const Shape& shape, DType dtype = kFloat64, double lo = -2, double hi = 2) {
  return random_uniform(shape, dtype, lo, hi);
}

}  // namespace

TEST_CASE("binary ops broadcast and match a float64 reference") {
  manual_seed(11);
  struct Case {
    Shape a, b;
  };
  std::vector<Case> cases = {{{3, 4}, {3, 4}}, {{3, 1}, {4}}, {{2, 1, 5}, {3, 1}}, {{}, {2, 3}},
                             {{64, 1024}, {1024}}, {{300, 200}, {300, 1}}};
  using Ref = std::function<double(double, double)>;
  std::vector<std::pair<std::function<Tensor(const Tensor&, const Tensor&)>, Ref>> ops = {
      {[](const Tensor& a, const Tensor& b) { return a + b; }, [](double x, double y) { return x + y; }},
      {[](const Tensor& a, const Tensor& b) { return a - b; }, [](double x, double y) { return x - y; }},
      {[](const Tensor& a, const Tensor& b) { return a * b; }, [](double x, double y) { return x * y; }},
      {[](const Tensor& a, const Tensor& b) { return a / b; }, [](double x, double y) { return x / y; }},
      {[](const Tensor& a, const Tensor& b) { return pow(abs(a), b); },
       [](double x, double y) { return std::pow(std::fabs(x), y); }},
      {maximum, [](double x, double y) { return std::max(x, y); }},
      {minimum, [](double x, double y) { return std::min(x, y); }},
  };
  for (DType dtype : {kFloat64, kFloat32}) {
    for (const Case& c : cases) {
      Tensor a = rnd(c.a, dtype), b = rnd(c.b, dtype, 0.5, 2);
      Shape out_shape = (c.a.size() >= c.b.size()) ? c.a : c.b;
      for (size_t d = 0; d < out_shape.size(); ++d) {
        size_t oa = out_shape.size() - c.a.size(), ob = out_shape.size() - c.b.size();
        int64_t sa = d >= oa ? c.a[d - oa] : 1, sb = d >= ob ? c.b[d - ob] : 1;
        out_shape[d] = std::max(sa, sb);
      }
      std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
      for (auto& [op, ref] : ops) {
        Tensor out = op(a, b);
        CHECK(out.shape() == out_shape);
        CHECK(out.dtype() == dtype);
        std::vector<double> want(shape_numel(out_shape));
        for (size_t i = 0; i < want.size(); ++i) {
          auto idx = unravel(static_cast<int64_t>(i), out_shape);
          want[i] = ref(at_broadcast(va, c.a, idx), at_broadcast(vb, c.b, idx));
        }
        check_close(out, want, dtype == kFloat64 ? 1e-12 : 1e-5);
      }
    }
  }
}

TEST_CASE("unary ops and comparisons match a float64 reference, also on strided inputs") {
  manual_seed(12);
  for (Tensor a : {rnd({70000}, kFloat32, 0.1, 3), rnd({30, 40}, kFloat64, 0.1, 3).t()}) {
    std::vector<double> v = a.to_vector<double>();
    double tol = a.dtype() == kFloat64 ? 1e-12 : 1e-6;
    auto ref = [&](double (*f)(double)) {
      std::vector<double> out;
      for (double x : v) out.push_back(f(x));
      return out;
    };
    check_close(exp(a), ref([](double x) { return std::exp(x); }), tol);
    check_close(log(a), ref([](double x) { return std::log(x); }), tol);
    check_close(sqrt(a), ref([](double x) { return std::sqrt(x); }), tol);
    check_close(neg(a), ref([](double x) { return -x; }), tol);
    check_close(abs(a - 1.5), ref([](double x) { return std::fabs(x - 1.5); }), tol);
    check_close(gt(a, 1.0).to(kFloat64), ref([](double x) { return x > 1.0 ? 1.0 : 0.0; }), 0);
  }
  Tensor i = from_vector(std::vector<int64_t>{-3, 0, 4}, {3});
  CHECK(abs(i).to_vector<int64_t>() == std::vector<int64_t>{3, 0, 4});
  CHECK(exp(i).dtype() == kFloat32);
  CHECK(sign(from_vector(std::vector<double>{-2, 0, 3})).to_vector<double>() ==
        std::vector<double>{-1, 0, 1});
  Tensor x = from_vector(std::vector<double>{1, 2, 3}), y = from_vector(std::vector<double>{3, 2, 1});
  CHECK(eq(x, y).to_vector<bool>() == std::vector<bool>{false, true, false});
  CHECK(ne(x, y).to_vector<bool>() == std::vector<bool>{true, false, true});
  CHECK(lt(x, y).to_vector<bool>() == std::vector<bool>{true, false, false});
  CHECK(le(x, y).to_vector<bool>() == std::vector<bool>{true, true, false});
  CHECK(ge(x, y).to_vector<bool>() == std::vector<bool>{false, true, true});
  CHECK(pow(from_vector(std::vector<int64_t>{2, 3}), 3).to_vector<int64_t>() == std::vector<int64_t>{8, 27});
}

TEST_CASE("sum, mean, max, min over dims match a reference on every layout path") {
  manual_seed(13);
  Shape shape = {6, 5, 40, 30};
  // Leading, trailing, both around kept dims ({0, 2, 3}, {0, 3}) and the generic path.
  std::vector<std::vector<int64_t>> dim_sets = {{0},    {3},    {2, 3},    {0, 1},      {1},
                                                {0, 2}, {1, 3}, {0, 2, 3}, {0, 1, 2, 3}, {0, 3}};
  for (bool strided : {false, true}) {
    Tensor a = strided ? rnd({30, 40, 5, 6}).permute({3, 2, 1, 0}) : rnd(shape);
    std::vector<double> v = a.to_vector<double>();
    for (const auto& dims : dim_sets) {
      CAPTURE(strided);
      CAPTURE(shape_str(dims));
      Shape out_shape = shape;
      for (int64_t d : dims) out_shape[d] = 1;
      std::vector<double> s(shape_numel(out_shape), 0), mx(s.size(), -1e300), mn(s.size(), 1e300);
      for (size_t i = 0; i < v.size(); ++i) {
        auto idx = unravel(static_cast<int64_t>(i), shape);
        for (int64_t d : dims) idx[d] = 0;
        int64_t o = 0;
        for (size_t d = 0; d < shape.size(); ++d) o = o * out_shape[d] + idx[d];
        s[o] += v[i];
        mx[o] = std::max(mx[o], v[i]);
        mn[o] = std::min(mn[o], v[i]);
      }
      check_close(sum(a, dims, true), s, 1e-12);
      Tensor m = mean(a, dims);
      int64_t count = static_cast<int64_t>(v.size() / s.size());
      std::vector<double> want_mean;
      for (double x : s) want_mean.push_back(x / count);
      check_close(m, want_mean, 1e-12);
      if (dims.size() == 1) {
        check_close(max(a, dims[0], true), mx, 0);
        check_close(min(a, dims[0]), mn, 0);
      }
    }
  }
  Tensor f = rnd({1000, 300}, kFloat32);
  CHECK(sum(f).item<double>() == doctest::Approx(sum(f.to(kFloat64)).item<double>()).epsilon(1e-5));
  CHECK(sum(f, 0).shape() == Shape{300});
  CHECK(sum(f, -1, true).shape() == Shape{1000, 1});
  CHECK(sum(zeros({0, 3}), 0).to_vector<float>() == std::vector<float>{0, 0, 0});
}

TEST_CASE("max and argmax propagate NaN and pick the first extremum") {
  Tensor a = from_vector(std::vector<double>{1, 5, 5, 2, NAN, 3}, {2, 3});
  CHECK(argmax(a, 1).to_vector<int64_t>() == std::vector<int64_t>{1, 1});
  CHECK(std::isnan(max(a).item<double>()));
  CHECK(argmin(a, 1).to_vector<int64_t>() == std::vector<int64_t>{0, 1});
  CHECK(argmax(a, 0, true).shape() == Shape{1, 3});
  Tensor b = from_vector(std::vector<float>{3, 9, -1, 9});
  CHECK(argmax(b).item<int64_t>() == 1);
  CHECK(argmin(b).item<int64_t>() == 2);
  CHECK(max(b, 0).item<double>() == 9);
}

TEST_CASE("matmul matches a naive reference for every operand layout and batching") {
  manual_seed(14);
  auto naive = [](const Tensor& a, const Tensor& b) {  // [B,M,K] x [B,K,N] contiguous float64
    int64_t B = a.size(0), M = a.size(1), K = a.size(2), N = b.size(2);
    std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>(), out(B * M * N, 0);
    for (int64_t z = 0; z < B; ++z)
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j)
          for (int64_t k = 0; k < K; ++k)
            out[(z * M + i) * N + j] += va[(z * M + i) * K + k] * vb[(z * K + k) * N + j];
    return out;
  };
  for (DType dtype : {kFloat64, kFloat32}) {
    double tol = dtype == kFloat64 ? 1e-12 : 1e-5;
    for (auto [M, K, N] : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {7, 5, 3}, {65, 33, 17}, {1, 64, 9}}) {
      Tensor a = rnd({M, K}, dtype), b = rnd({K, N}, dtype);
      auto want = naive(a.unsqueeze(0), b.unsqueeze(0));
      check_close(matmul(a, b), want, tol);
      check_close(matmul(a.t().contiguous().t(), b), want, tol);   // A transposed in memory
      check_close(matmul(a, b.t().contiguous().t()), want, tol);   // B transposed in memory
      Tensor a_wide = rnd({M, 2 * K}, dtype).slice(1, 0, 2 * K, 2);  // no unit stride: copied
      check_close(matmul(a_wide, b), naive(a_wide.contiguous().unsqueeze(0), b.unsqueeze(0)), tol);
    }
    // batch broadcasting [2,1,3,4] @ [3,4,5] -> [2,3,3,5]
    Tensor a = rnd({2, 1, 3, 4}, dtype), b = rnd({3, 4, 5}, dtype);
    Tensor out = matmul(a, b);
    CHECK(out.shape() == Shape{2, 3, 3, 5});
    Tensor a_full = a.expand({2, 3, 3, 4}).contiguous().reshape({6, 3, 4});
    Tensor b_full = b.unsqueeze(0).expand({2, 3, 4, 5}).contiguous().reshape({6, 4, 5});
    check_close(out, naive(a_full, b_full), tol);
    // many small products (parallel over the batch)
    Tensor p = rnd({64, 8, 16}, dtype), q = rnd({64, 16, 8}, dtype);
    check_close(matmul(p, q), naive(p, q), tol);
  }
  // vector cases
  Tensor v = from_vector(std::vector<double>{1, 2, 3});
  Tensor m = from_vector(std::vector<double>{1, 0, 0, 1, 1, 1}, {3, 2});
  CHECK(matmul(v, v).item<double>() == 14);
  CHECK(matmul(v, m).to_vector<double>() == std::vector<double>{4, 5});
  CHECK(matmul(m.t(), v).to_vector<double>() == std::vector<double>{4, 5});
  CHECK(matmul(zeros({2, 0}), zeros({0, 3})).to_vector<float>() == std::vector<float>(6, 0));
}

TEST_CASE("cat joins along any dim with promotion") {
  Tensor a = arange(6).reshape({2, 3});
  Tensor b = full({2, 1}, 9.5);
  Tensor c = cat({a, b}, 1);
  CHECK(c.dtype() == kFloat32);
  CHECK(c.to_vector<float>() == std::vector<float>{0, 1, 2, 9.5f, 3, 4, 5, 9.5f});
  Tensor d = cat({a, a.slice(0, 1, 2)}, 0);
  CHECK(d.shape() == Shape{3, 3});
  CHECK(d.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 3, 4, 5});
  CHECK(cat({a.t(), a.t()}, -1).shape() == Shape{3, 4});
}
