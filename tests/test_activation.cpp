// Activations, elementwise selection and the extra reductions (logsumexp,
// var/std, cumsum) against simple float64 references on random inputs,
// special values, and every error path.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include <cmath>
#include <functional>

#include "backends/cpu/vector_math.h"
#include "test_util.h"

using namespace lg;

namespace {

Tensor rnd(const Shape& shape, DType dtype = kFloat64, double lo = -2, double hi = 2) {
  return random_uniform(shape, dtype, lo, hi);
}

std::vector<double> map_ref(const Tensor& x, const std::function<double(double)>& f) {
  std::vector<double> out;
  for (double v : x.to_vector<double>()) out.push_back(f(v));
  return out;
}

double sigmoid_ref(double x) { return 1 / (1 + std::exp(-x)); }
double gelu_ref(double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }
double gelu_tanh_ref(double x) {
  return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}
double softplus_ref(double x, double beta, double threshold) {
  return beta * x > threshold ? x : std::log1p(std::exp(beta * x)) / beta;
}

}  // namespace

TEST_CASE("activations match a float64 reference on random inputs, contiguous and strided") {
  manual_seed(31);
  using Op = std::function<Tensor(const Tensor&)>;
  using Ref = std::function<double(double)>;
  std::vector<std::pair<Op, Ref>> cases = {
      {[](const Tensor& x) { return tanh(x); }, [](double x) { return std::tanh(x); }},
      {[](const Tensor& x) { return sigmoid(x); }, sigmoid_ref},
      {[](const Tensor& x) { return relu(x); }, [](double x) { return x > 0 ? x : 0.0; }},
      {[](const Tensor& x) { return gelu(x); }, gelu_ref},
      {[](const Tensor& x) { return gelu(x, GeluApproximate::Tanh); }, gelu_tanh_ref},
      {[](const Tensor& x) { return silu(x); }, [](double x) { return x * sigmoid_ref(x); }},
      {[](const Tensor& x) { return softplus(x); },
       [](double x) { return softplus_ref(x, 1, 20); }},
      {[](const Tensor& x) { return softplus(x, 2.0, 3.0); },
       [](double x) { return softplus_ref(x, 2, 3); }},
      {[](const Tensor& x) { return erf(x); }, [](double x) { return std::erf(x); }},
  };
  for (DType dtype : {kFloat32, kFloat64}) {
    // 70000 elements take the multi-threaded path; the transpose is strided.
    for (Tensor x : {rnd({70000}, dtype, -6, 6), rnd({30, 40}, dtype, -6, 6).t()}) {
      CAPTURE(x.describe());
      for (auto& [op, ref] : cases) {
        Tensor y = op(x);
        CHECK(y.dtype() == dtype);
        CHECK(y.shape() == x.shape());
        check_close(y, map_ref(x, ref), dtype == kFloat64 ? 1e-12 : 2e-6);
      }
    }
  }
}

double gelu_grad_ref(double v) {
  return 0.5 * (1 + std::erf(v / std::sqrt(2.0))) + v * std::exp(-v * v / 2) / std::sqrt(2 * M_PI);
}
double gelu_tanh_grad_ref(double v) {
  const double k = std::sqrt(2 / M_PI), t = std::tanh(k * (v + 0.044715 * v * v * v));
  return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * 0.044715 * v * v);
}

TEST_CASE(
    "the vectorised float gelu kernels match float64 formulas, tails and special values, on every "
    "CPU path") {
  std::vector<float> x;
  for (float v = -12.0f; v < 12.0f; v += 0.00391f) x.push_back(v);
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 4.0f, -4.0f, 50.0f, -50.0f, INFINITY, -INFINITY})
    x.push_back(v);
  x.push_back(NAN);
  std::vector<float> g(x.size());
  for (size_t i = 0; i < g.size(); ++i) g[i] = 0.5f + static_cast<float>(i % 7);
  for_each_cpu_isa([&] {
    for (bool tanh_form : {false, true}) {
      CAPTURE(tanh_form);
      // Lengths with a tail (n % 16, 8 or 4) through the partial-vector path.
      for (int64_t n : {static_cast<int64_t>(x.size()), int64_t(1), int64_t(15), int64_t(17)}) {
        std::vector<float> y(n), dx(n);
        cpu::gelu_float(y.data(), x.data(), n, tanh_form);
        cpu::gelu_backward_float(dx.data(), g.data(), x.data(), n, tanh_form);
        int bad = 0;
        for (int64_t i = 0; i < n; ++i) {
          const double v = x[i];
          const double want = tanh_form ? gelu_tanh_ref(v) : gelu_ref(v);
          const double dwant = g[i] * (tanh_form ? gelu_tanh_grad_ref(v) : gelu_grad_ref(v));
          // The formulas' own NaN and inf (as the scalar kernels: -inf * 0 is NaN).
          auto off = [&](double got, double w, double tol) {
            if (std::isnan(w) || std::isinf(w))
              return !(got == w || (std::isnan(got) && std::isnan(w)));
            return std::fabs(got - w) > tol;
          };
          // PyTorch-level accuracy: 1 + erf cancels for x << 0 in float (absolute 1e-7 |x|).
          const double scale = std::isfinite(v) ? std::max(1.0, std::fabs(v)) : 1.0;
          bad += off(y[i], want, 4e-7 * scale);
          bad += off(dx[i], dwant, 1e-6 * scale * g[i]);
        }
        CHECK(bad == 0);
      }
    }
  });
}

TEST_CASE(
    "the vectorised float sigmoid and silu kernels match float64 formulas, tails and special "
    "values, on every CPU path") {
  std::vector<float> x;
  for (float v = -110.0f; v < 110.0f; v += 0.0173f) x.push_back(v);
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 88.0f, -88.0f, 89.0f, -89.0f, 104.5f, -104.5f,
                  INFINITY, -INFINITY})
    x.push_back(v);
  x.push_back(NAN);
  std::vector<float> g(x.size());
  for (size_t i = 0; i < g.size(); ++i) g[i] = 0.5f + static_cast<float>(i % 7);
  // The formulas' own NaN and inf (as the scalar kernels: silu(-inf) = -inf / inf is NaN).
  auto off = [](double got, double want, double tol) {
    if (std::isnan(want) || std::isinf(want))
      return !(got == want || (std::isnan(got) && std::isnan(want)));
    return std::fabs(got - want) > tol * std::max(1.0, std::fabs(want));
  };
  for_each_cpu_isa([&] {
    for (int64_t n : {static_cast<int64_t>(x.size()), int64_t(1), int64_t(15), int64_t(17)}) {
      CAPTURE(n);
      std::vector<float> s(n), y(n), dx(n);
      cpu::sigmoid_float(s.data(), x.data(), n);
      cpu::silu_float(y.data(), x.data(), n);
      cpu::silu_backward_float(dx.data(), g.data(), x.data(), n);
      int bad = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double v = x[i], sv = sigmoid_ref(v);
        const double silu = std::isinf(v) ? v / (1 + std::exp(-v)) : v * sv;
        const double dsilu = std::isinf(v) && v < 0 ? NAN : sv * (1 + v * (1 - sv));
        bad += off(s[i], sv, 4e-7);
        bad += off(y[i], silu, 4e-7);
        bad += off(dx[i], g[i] * dsilu, 1e-6 * g[i]);
      }
      CHECK(bad == 0);
    }
  });
}

TEST_CASE("silu's fused float32 backward matches float64, contiguous and strided") {
  manual_seed(34);
  for (Tensor x64 : {rnd({70001}, kFloat64, -30, 30), rnd({30, 41}, kFloat64, -30, 30).t()}) {
    CAPTURE(x64.describe());
    Tensor x = x64.to(kFloat32).requires_grad_();
    Tensor g = rnd(x.shape(), kFloat32, -1, 1);
    Tensor y = silu(x);
    CHECK(y.grad_fn()->has_fused_backward());
    y.backward(g);
    std::vector<double> want, gs = g.to_vector<double>(), xs = x.to_vector<double>();
    for (size_t i = 0; i < xs.size(); ++i) {
      const double s = sigmoid_ref(xs[i]);
      want.push_back(gs[i] * s * (1 + xs[i] * (1 - s)));
    }
    check_close(x.grad(), want, 2e-6);
  }
}

TEST_CASE("relu's fused backward selects the gradient where the input is positive") {
  for (DType dtype : {kFloat32, kFloat64}) {
    CAPTURE(dtype_name(dtype));
    // Contiguous (with a vector tail) and strided; 0, -0, NaN and inf inputs.
    Tensor base = from_vector(std::vector<double>{-1.5, 0.0, -0.0, 2.0, NAN, INFINITY, -INFINITY,
                                                  3.0, 1e-30, -4.0, 0.5, 7.0, -2.0, 9.0, 1.0,
                                                  -1.0, 6.0, 0.25})
                      .to(dtype);
    for (Tensor x : {base, base.reshape({3, 6}).t()}) {
      x = x.detach().requires_grad_();
      Tensor y = relu(x);
      CHECK(y.grad_fn()->has_fused_backward());
      // A NaN gradient where the input is not positive gives 0, as PyTorch's.
      std::vector<double> gv(18, 0.5);
      gv[0] = NAN;
      gv[3] = -3.0;
      Tensor g = from_vector(gv, x.shape()).to(dtype);
      y.backward(g);
      std::vector<double> xs = x.to_vector<double>(), gs = g.to_vector<double>(), want;
      for (size_t i = 0; i < xs.size(); ++i) want.push_back(xs[i] > 0 ? gs[i] : 0.0);
      CHECK(x.grad().to_vector<double>() == want);
    }
  }
}

TEST_CASE("gelu's fused float32 backward matches float64, contiguous and strided") {
  manual_seed(33);
  for (Tensor x64 : {rnd({70001}, kFloat64, -6, 6), rnd({30, 41}, kFloat64, -6, 6).t()}) {
    CAPTURE(x64.describe());
    for (bool tanh_form : {false, true}) {
      Tensor x = x64.to(kFloat32).requires_grad_();
      Tensor g = rnd(x.shape(), kFloat32, -1, 1);
      Tensor y = gelu(x, tanh_form ? GeluApproximate::Tanh : GeluApproximate::None);
      CHECK(y.grad_fn()->has_fused_backward());
      y.backward(g);
      std::vector<double> want, gs = g.to_vector<double>(), xs = x.to_vector<double>();
      for (size_t i = 0; i < xs.size(); ++i)
        want.push_back(gs[i] * (tanh_form ? gelu_tanh_grad_ref(xs[i]) : gelu_grad_ref(xs[i])));
      check_close(x.grad(), want, 2e-6);
    }
  }
}

TEST_CASE("activation gradients match their closed forms") {
  manual_seed(32);
  Tensor x = rnd({50}, kFloat64, -4, 4).requires_grad_();
  auto grad_of = [&](const std::function<Tensor(const Tensor&)>& f) {
    x.zero_grad();
    sum(f(x)).backward();
    return x.grad();
  };
  const double pi = M_PI;
  check_close(grad_of([](const Tensor& v) { return tanh(v); }),
              map_ref(x, [](double v) { return 1 - std::tanh(v) * std::tanh(v); }), 1e-12);
  check_close(grad_of([](const Tensor& v) { return sigmoid(v); }),
              map_ref(x, [](double v) { return sigmoid_ref(v) * (1 - sigmoid_ref(v)); }), 1e-12);
  check_close(grad_of([](const Tensor& v) { return relu(v); }),
              map_ref(x, [](double v) { return v > 0 ? 1.0 : 0.0; }), 0);
  check_close(grad_of([](const Tensor& v) { return gelu(v); }),
              map_ref(x,
                      [&](double v) {
                        return 0.5 * (1 + std::erf(v / std::sqrt(2.0))) +
                               v * std::exp(-v * v / 2) / std::sqrt(2 * pi);
                      }),
              1e-12);
  check_close(grad_of([](const Tensor& v) { return silu(v); }),
              map_ref(x,
                      [](double v) {
                        double s = sigmoid_ref(v);
                        return s * (1 + v * (1 - s));
                      }),
              1e-12);
  check_close(grad_of([](const Tensor& v) { return softplus(v, 2.0, 3.0); }),
              map_ref(x, [](double v) { return 2 * v > 3 ? 1.0 : sigmoid_ref(2 * v); }), 1e-12);
  check_close(grad_of([](const Tensor& v) { return erf(v); }),
              map_ref(x, [&](double v) { return 2 / std::sqrt(pi) * std::exp(-v * v); }), 1e-12);
  // gelu's tanh form against a central difference of its own reference.
  check_close(
      grad_of([](const Tensor& v) { return gelu(v, "tanh"); }),
      map_ref(x,
              [](double v) { return (gelu_tanh_ref(v + 1e-6) - gelu_tanh_ref(v - 1e-6)) / 2e-6; }),
      1e-7);
}

TEST_CASE("activations stay finite and exact at large |x| in float32 and float64") {
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor x = from_vector(std::vector<double>{-1e4, -200, -30, 30, 200, 1e4}).to(dtype);
    x.requires_grad_();
    CHECK(tanh(x).to_vector<double>() == std::vector<double>{-1, -1, -1, 1, 1, 1});
    std::vector<double> s = sigmoid(x).to_vector<double>();
    CHECK(s[0] == 0);
    CHECK(s[5] == 1);
    CHECK(std::fabs(s[2] / sigmoid_ref(-30) - 1) < 1e-5);
    std::vector<double> sp = softplus(x).to_vector<double>();
    CHECK(sp[0] == 0);
    CHECK(std::fabs(sp[2] / std::exp(-30.0) - 1) < 1e-5);  // log1p keeps tiny values
    CHECK(sp[5] == 1e4);
    CHECK(softplus(x, 0.5, 1e9).to_vector<double>()[5] == 1e4);  // no threshold: still no overflow
    for (const Tensor& y : {tanh(x), sigmoid(x), softplus(x), silu(x), gelu(x), gelu(x, "tanh")}) {
      CHECK(y.all_finite());
      x.zero_grad();
      sum(y).backward();
      CHECK(x.grad().all_finite());
    }
    CHECK(silu(x).to_vector<double>()[0] == 0);
    CHECK(gelu(x).to_vector<double>()[0] == 0);
  }
  Tensor nan = from_vector(std::vector<double>{NAN});
  for (const Tensor& y : {tanh(nan), sigmoid(nan), relu(nan), gelu(nan), silu(nan), softplus(nan)})
    CHECK(std::isnan(y.item<double>()));
}

TEST_CASE("activation dtypes and gelu's approximate spellings") {
  Tensor i = from_vector(std::vector<int64_t>{-3, 0, 4});
  CHECK(relu(i).dtype() == kInt64);
  CHECK(relu(i).to_vector<int64_t>() == std::vector<int64_t>{0, 0, 4});
  CHECK(tanh(i).dtype() == kFloat32);
  CHECK(sigmoid(i).to_vector<float>()[1] == 0.5f);
  Tensor x = rnd({4, 5}, kFloat32);
  CHECK(gelu(x, "tanh").to_vector<float>() == gelu(x, GeluApproximate::Tanh).to_vector<float>());
  CHECK(gelu(x, "none").to_vector<float>() == gelu(x).to_vector<float>());
  CHECK(gelu(x, "tanh").to_vector<float>() != gelu(x).to_vector<float>());
}

TEST_CASE("where, masked_fill and clamp broadcast and match a reference") {
  manual_seed(33);
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor c = gt(rnd({3, 1}), 0), a = rnd({2, 1, 4}, dtype), b = rnd({3, 4}, dtype).t().t();
    Tensor bt = rnd({4, 3}, dtype).t();  // non-contiguous [3,4]
    Tensor out = where(c, a, bt);
    CHECK(out.shape() == Shape{2, 3, 4});
    CHECK(out.dtype() == dtype);
    std::vector<bool> vc = c.to_vector<bool>();
    std::vector<double> va = a.to_vector<double>(), vb = bt.to_vector<double>(), want;
    for (int64_t i = 0; i < 24; ++i) {
      auto idx = unravel(i, {2, 3, 4});
      want.push_back(vc[idx[1]] ? va[idx[0] * 4 + idx[2]] : vb[idx[1] * 4 + idx[2]]);
    }
    check_close(out, want, 0);
    CHECK(where(c, a, 1.5).shape() == Shape{2, 3, 4});
    // A condition constant along the inner dim (a padding mask), with a scalar side.
    std::vector<double> want_scalar;
    for (int64_t i = 0; i < 24; ++i) {
      auto idx = unravel(i, {2, 3, 4});
      want_scalar.push_back(vc[idx[1]] ? va[idx[0] * 4 + idx[2]] : 1.5);
    }
    check_close(where(c, a, 1.5), want_scalar, 0);
    Tensor pad = gt(rnd({2, 3, 1}), 0), padded = rnd({2, 3, 5}, dtype);
    std::vector<bool> vp = pad.to_vector<bool>();
    std::vector<double> vpad = padded.to_vector<double>(), want_pad;
    for (int64_t i = 0; i < 30; ++i) want_pad.push_back(vp[i / 5] ? 0.0 : vpad[i]);
    check_close(masked_fill(padded, pad, 0.0), want_pad, 0);
    check_close(
        masked_fill(padded.transpose(1, 2), pad.transpose(1, 2), 0.0).transpose(1, 2).contiguous(),
        want_pad, 0);
    CHECK(where(c, 1, b).dtype() == dtype);
    CHECK(where(c, a.to(kFloat32), b.to(kFloat64)).dtype() == kFloat64);

    Tensor x = rnd({3, 4}, dtype), m = gt(rnd({4}), 0);
    std::vector<bool> vm = m.to_vector<bool>();
    std::vector<double> vx = x.to_vector<double>(), want_fill, want_clamp, want_lo, want_hi;
    for (int64_t i = 0; i < 12; ++i) {
      want_fill.push_back(vm[i % 4] ? -7.0 : vx[i]);
      want_clamp.push_back(std::min(std::max(vx[i], -0.5), 0.75));
      want_lo.push_back(std::max(vx[i], -0.5));
      want_hi.push_back(std::min(vx[i], 0.75));
    }
    check_close(masked_fill(x, m, -7), want_fill, 0);
    CHECK(masked_fill(x, m, -7).dtype() == dtype);
    check_close(clamp(x, -0.5, 0.75), want_clamp, 0);
    check_close(clamp(x, -0.5), want_lo, 0);
    check_close(clamp(x, std::nullopt, 0.75), want_hi, 0);
    check_close(clamp(x.t(), -0.5, 0.75).t().contiguous(), want_clamp, 0);
  }
  CHECK(clamp(from_vector(std::vector<double>{1, 5}), 3, 2).to_vector<double>() ==
        std::vector<double>{2, 2});  // min > max gives max, as PyTorch
  CHECK(clamp(from_vector(std::vector<int64_t>{-3, 9}), 0, 5).to_vector<int64_t>() ==
        std::vector<int64_t>{0, 5});
  CHECK(std::isnan(clamp(from_vector(std::vector<double>{NAN}), 0, 1).item<double>()));
}

TEST_CASE("where, masked_fill and clamp gradients are masked and summed back") {
  Tensor c = from_vector(std::vector<bool>{true, false, true}, {3, 1});
  Tensor a = ones({3, 2}, {.dtype = kFloat64, .requires_grad = true});
  Tensor b = ones({2}, {.dtype = kFloat64, .requires_grad = true});
  sum(where(c, a, b) * 3).backward();
  CHECK(a.grad().to_vector<double>() == std::vector<double>{3, 3, 0, 0, 3, 3});
  CHECK(b.grad().to_vector<double>() == std::vector<double>{3, 3});  // one row of [3,2] each

  Tensor x = from_vector(std::vector<double>{-2, -0.5, 0.5, 2, 1}).requires_grad_();
  sum(clamp(x, -0.5, 1)).backward();  // the bounds themselves are inside (PyTorch's rule)
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 1, 1, 0, 1});
  x.zero_grad();
  Tensor m = from_vector(std::vector<bool>{true, false, false, true, false});
  sum(masked_fill(x, m, 9) * x).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{9, -1, 1, 9, 2});
}

TEST_CASE("scalar comparisons and logical ops") {
  Tensor x = from_vector(std::vector<double>{1, 2, 3});
  CHECK(ne(x, 2).to_vector<bool>() == std::vector<bool>{true, false, true});
  CHECK(le(x, 2).to_vector<bool>() == std::vector<bool>{true, true, false});
  CHECK(ge(x, 2.5).to_vector<bool>() == std::vector<bool>{false, false, true});
  Tensor p = from_vector(std::vector<bool>{true, true, false, false});
  Tensor q = from_vector(std::vector<bool>{true, false, true, false});
  CHECK(logical_not(p).to_vector<bool>() == std::vector<bool>{false, false, true, true});
  CHECK(logical_and(p, q).to_vector<bool>() == std::vector<bool>{true, false, false, false});
  CHECK(logical_or(p, q).to_vector<bool>() == std::vector<bool>{true, true, true, false});
  CHECK(logical_and(p, q).dtype() == kBool);
  CHECK(logical_or(from_vector(std::vector<double>{0, 2}), from_vector(std::vector<int64_t>{0, 0}))
            .to_vector<bool>() == std::vector<bool>{false, true});
  CHECK(logical_and(p.reshape({4, 1}), q).shape() == Shape{4, 4});
}

TEST_CASE("logsumexp matches a reference and handles -inf and huge values") {
  manual_seed(34);
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor x = rnd({5, 6, 7}, dtype, -10, 10).permute({2, 0, 1});  // [7,5,6], strided
    std::vector<double> v = x.to_vector<double>();
    for (int64_t dim : {0, 1, 2}) {
      Shape out_shape = x.shape();
      out_shape[dim] = 1;
      std::vector<double> mx(shape_numel(out_shape), -INFINITY), s(mx.size(), 0);
      for (size_t i = 0; i < v.size(); ++i) {
        auto idx = unravel(static_cast<int64_t>(i), x.shape());
        idx[dim] = 0;
        int64_t o = ravel(idx, out_shape);
        mx[o] = std::max(mx[o], v[i]);
      }
      for (size_t i = 0; i < v.size(); ++i) {
        auto idx = unravel(static_cast<int64_t>(i), x.shape());
        idx[dim] = 0;
        int64_t o = ravel(idx, out_shape);
        s[o] += std::exp(v[i] - mx[o]);
      }
      std::vector<double> want;
      for (size_t o = 0; o < s.size(); ++o) want.push_back(mx[o] + std::log(s[o]));
      check_close(logsumexp(x, dim, true), want, dtype == kFloat64 ? 1e-12 : 1e-5);
      CHECK(logsumexp(x, dim).dim() == 2);
    }
  }
  Tensor all = rnd({3, 4});
  CHECK(logsumexp(all, std::vector<int64_t>{0, 1}).item<double>() ==
        doctest::Approx(std::log(sum(exp(all)).item<double>())).epsilon(1e-12));

  Tensor special =
      from_vector(std::vector<double>{-INFINITY, -INFINITY, 1e4, 1e4, 0, -INFINITY, 1e308, 1e308},
                  {4, 2})
          .requires_grad_();
  Tensor out = logsumexp(special, 1);
  std::vector<double> got = out.to_vector<double>();
  CHECK(got[0] == -INFINITY);
  CHECK(got[1] == doctest::Approx(1e4 + std::log(2.0)));
  CHECK(got[2] == 0);
  CHECK(got[3] == 1e308);  // 1e308 + log 2: no overflow on the way
  sum(logsumexp(special.slice(0, 0, 3), 1)).backward();
  CHECK(special.grad().to_vector<double>() == std::vector<double>{0, 0, 0.5, 0.5, 1, 0, 0, 0});
  Tensor f = full({2, 3}, -INFINITY, {.dtype = kFloat32, .requires_grad = true});
  Tensor g = grad({sum(logsumexp(f, -1))}, {f}, {.create_graph = true})[0];
  CHECK(g.all_finite());
  CHECK(grad({sum(g * g)}, {f})[0].all_finite());
  CHECK(max(full({3}, -INFINITY)).item<double>() == -INFINITY);
}

TEST_CASE("var and std match a reference over dims, biased and unbiased") {
  manual_seed(35);
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor x = rnd({6, 5, 4}, dtype, -3, 5).transpose(0, 2);  // [4,5,6], strided
    std::vector<double> v = x.to_vector<double>();
    for (const std::vector<int64_t>& dims : std::vector<std::vector<int64_t>>{{0}, {2}, {0, 2}}) {
      Shape out_shape = x.shape();
      for (int64_t d : dims) out_shape[d] = 1;
      std::vector<double> s(shape_numel(out_shape), 0), ss(s.size(), 0);
      int64_t n = static_cast<int64_t>(v.size() / s.size());
      for (size_t i = 0; i < v.size(); ++i) {
        auto idx = unravel(static_cast<int64_t>(i), x.shape());
        for (int64_t d : dims) idx[d] = 0;
        s[ravel(idx, out_shape)] += v[i];
      }
      for (size_t i = 0; i < v.size(); ++i) {
        auto idx = unravel(static_cast<int64_t>(i), x.shape());
        for (int64_t d : dims) idx[d] = 0;
        int64_t o = ravel(idx, out_shape);
        ss[o] += (v[i] - s[o] / n) * (v[i] - s[o] / n);
      }
      for (bool unbiased : {true, false}) {
        std::vector<double> want_var, want_std;
        for (double q : ss) {
          want_var.push_back(q / (n - (unbiased ? 1 : 0)));
          want_std.push_back(std::sqrt(want_var.back()));
        }
        double tol = dtype == kFloat64 ? 1e-12 : 1e-5;
        check_close(var(x, dims, unbiased, true), want_var, tol);
        check_close(lg::std(x, dims, unbiased), want_std, tol);
      }
    }
  }
  Tensor x = rnd({10});
  std::vector<double> v = x.to_vector<double>();
  double m = 0, q = 0;
  for (double e : v) m += e / 10;
  for (double e : v) q += (e - m) * (e - m);
  CHECK(var(x).item<double>() == doctest::Approx(q / 9).epsilon(1e-12));
  CHECK(lg::std(x, 0, false).item<double>() == doctest::Approx(std::sqrt(q / 10)).epsilon(1e-12));
  CHECK(std::isnan(var(rnd({3, 1}), 1).to_vector<double>()[0]));  // n - 1 = 0, as PyTorch
  // Documented: std's gradient at zero deviation is NaN (0 * inf), as PyTorch's.
  Tensor c = full({3}, 2.0, {.dtype = kFloat64, .requires_grad = true});
  lg::std(c).backward();
  CHECK(std::isnan(c.grad().to_vector<double>()[0]));
}

TEST_CASE("cumsum matches a reference along every dim, and its backward is the reverse scan") {
  manual_seed(36);
  for (DType dtype : {kFloat32, kFloat64, kInt64}) {
    Tensor base =
        dtype == kInt64 ? rnd({4, 3, 5}, kFloat64, -50, 50).to(kInt64) : rnd({4, 3, 5}, dtype);
    for (Tensor x : {base, base.permute({2, 0, 1})}) {
      std::vector<double> v = x.to_vector<double>();
      for (int64_t dim = 0; dim < 3; ++dim) {
        std::vector<double> want(v.size());
        for (size_t i = 0; i < v.size(); ++i) {
          auto idx = unravel(static_cast<int64_t>(i), x.shape());
          double acc = 0;
          for (int64_t j = 0; j <= idx[dim]; ++j) {
            auto k = idx;
            k[dim] = j;
            acc += v[ravel(k, x.shape())];
          }
          want[i] = acc;
        }
        Tensor y = cumsum(x, dim - 3);
        CHECK(y.dtype() == dtype);
        check_close(y, want, dtype == kFloat32 ? 1e-5 : 1e-12);
      }
    }
  }
  CHECK(cumsum(from_vector(std::vector<bool>{true, false, true}), 0).to_vector<int64_t>() ==
        std::vector<int64_t>{1, 1, 2});
  CHECK(cumsum(full({}, 2.5), 0).item<double>() == 2.5);
  Tensor x = rnd({4}).requires_grad_();
  sum(cumsum(x, 0) * from_vector(std::vector<double>{1, 2, 3, 4})).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{10, 9, 7, 4});
}

TEST_CASE("activation, select and reduction errors name the op and the operands") {
  Tensor a = randn({2, 3}), b = randn({4});
  CHECK_ERROR(where(a, a, a), "where", "condition", "bool", "float32[2,3]");
  CHECK_ERROR(where(gt(a, 0), a, b), "where", "[2,3]", "[4]");
  CHECK_ERROR(where(Tensor(), a, a), "where", "undefined");
  CHECK_ERROR(masked_fill(a, a, 1), "masked_fill", "mask", "bool", "float32[2,3]");
  CHECK_ERROR(masked_fill(a, gt(randn({3, 2, 3}), 0), 1), "masked_fill", "bool[3,2,3]",
              "float32[2,3]");
  CHECK_ERROR(masked_fill(a, gt(b, 0), 1), "masked_fill", "[4]", "[2,3]");
  CHECK_ERROR(clamp(a, std::nullopt, std::nullopt), "clamp", "at least one", "float32[2,3]");
  CHECK_ERROR(clamp(gt(a, 0), 0, 1), "clamp", "bool");
  CHECK_ERROR(gelu(a, "fast"), "gelu", "'none' or 'tanh'", "'fast'");
  CHECK_ERROR(softplus(a, 0.0), "softplus", "beta", "float32[2,3]");
  CHECK_ERROR(relu(gt(a, 0)), "relu", "bool");
  CHECK_ERROR(tanh(Tensor()), "tanh", "undefined");
  CHECK_ERROR(logical_and(a, b), "logical_and", "[2,3]", "[4]");
  CHECK_ERROR(logsumexp(a, 2), "logsumexp", "dimension 2 out of range");
  CHECK_ERROR(logsumexp(a, std::vector<int64_t>{0, -2}), "logsumexp", "more than once");
  CHECK_ERROR(var(from_vector(std::vector<int64_t>{1, 2})), "var", "floating", "int64[2]");
  CHECK_ERROR(lg::std(from_vector(std::vector<int64_t>{1, 2}), 0), "std", "floating", "int64[2]");
  CHECK_ERROR(var(a, 3), "var", "out of range");
  CHECK_ERROR(cumsum(a, 2), "cumsum", "out of range");
  CHECK_ERROR(cumsum(Tensor(), 0), "cumsum", "undefined");
}
