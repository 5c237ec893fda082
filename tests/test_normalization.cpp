// layer_norm (fused kernels against float64 references and against the
// composite formula), rms_norm and batch_norm (training, running statistics,
// eval), and their error paths.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include "test_util.h"

#include <cmath>

using namespace lg;

namespace {

Tensor rnd(const Shape& shape, DType dtype, double lo = -2, double hi = 2) {
  return random_uniform(shape, dtype, lo, hi);
}



double tol_for(DType dtype) { return dtype == kFloat32 ? 2e-5 : 1e-11; }

// Row-wise (x - mean) / sqrt(var + eps) * w + b over rows of n elements.
std::vector<double> layer_norm_ref(const std::vector<double>& x, int64_t n,
                                   const std::vector<double>& w, const std::vector<double>& b,
                                   double eps) {
  std::vector<double> out(x.size());
  for (size_t r = 0; r < x.size() / n; ++r) {
    double mu = 0, var = 0;
    for (int64_t i = 0; i < n; ++i) mu += x[r * n + i] / n;
    for (int64_t i = 0; i < n; ++i) var += (x[r * n + i] - mu) * (x[r * n + i] - mu) / n;
    for (int64_t i = 0; i < n; ++i) {
      double y = (x[r * n + i] - mu) / std::sqrt(var + eps);
      out[r * n + i] = y * (w.empty() ? 1.0 : w[i]) + (b.empty() ? 0.0 : b[i]);
    }
  }
  return out;
}

std::vector<double> values(const Tensor& t) {
  return t.defined() ? t.to_vector<double>() : std::vector<double>{};
}

}  // namespace

TEST_CASE("layer_norm matches a float64 reference") {
  manual_seed(3);
  struct Case {
    Shape x, norm;
    bool weight, bias;
  };
  std::vector<Case> cases = {{{4, 8}, {8}, true, true},        {{2, 3, 5}, {5}, true, false},
                             {{2, 3, 4}, {3, 4}, false, true}, {{7}, {7}, false, false},
                             {{300, 256}, {256}, true, true},  {{0, 6}, {6}, true, true}};
  for (DType dtype : {kFloat64, kFloat32}) {
    for (const Case& c : cases) {
      CAPTURE(shape_str(c.x));
      Tensor x = rnd(c.x, dtype, -3, 5);
      Tensor w = c.weight ? rnd(c.norm, dtype) : Tensor();
      Tensor b = c.bias ? rnd(c.norm, dtype) : Tensor();
      Tensor y = layer_norm(x, c.norm, w, b, 1e-3);
      CHECK(y.shape() == c.x);
      CHECK(y.dtype() == dtype);
      check_close(y, layer_norm_ref(values(x), shape_numel(c.norm), values(w), values(b), 1e-3),
                  tol_for(dtype) * 10);
    }
  }
  // A non-contiguous input normalises the same values.
  Tensor base = rnd({6, 4}, kFloat64);
  Tensor xt = base.t();
  check_close(layer_norm(xt, {6}), layer_norm(xt.contiguous(), {6}), 1e-14);
}

TEST_CASE("fused layer_norm matches its composite formula: forward and all three gradients") {
  manual_seed(5);
  for (DType dtype : {kFloat64, kFloat32}) {
    for (Shape shape : {Shape{3, 5}, Shape{2, 4, 6}, Shape{200, 384}}) {
      CAPTURE(shape_str(shape));
      const Shape norm{shape.back()};
      Tensor x = rnd(shape, dtype, -2, 3).requires_grad_();
      Tensor w = rnd(norm, dtype).requires_grad_();
      Tensor b = rnd(norm, dtype).requires_grad_();
      Tensor g = rnd(shape, dtype);
      Tensor fused = layer_norm(x, norm, w, b);
      Tensor composite = layer_norm_composite(x, norm, w, b);
      check_close(fused, composite, tol_for(dtype) * 10);
      CHECK(fused.grad_fn()->has_fused_backward());
      auto gf = grad({fused}, {x, w, b}, {}, {g});
      auto gc = grad({composite}, {x, w, b}, {}, {g});
      // The weight and bias gradients sum over rows: allow for float32 rounding.
      const double tol = dtype == kFloat32 ? 2e-4 : 1e-10;
      for (size_t i = 0; i < 3; ++i) {
        CAPTURE(i);
        check_close(gf[i], gc[i], tol);
      }
      // Only the needed gradients: x alone, then the parameters alone.
      check_close(grad({layer_norm(x, norm, w, b)}, {x}, {}, {g})[0], gc[0], tol);
      check_close(grad({layer_norm(x, norm, w, b)}, {b}, {}, {g})[0], gc[2], tol);
    }
  }
}

TEST_CASE("layer_norm double backward uses the composite formula") {
  manual_seed(6);
  Tensor x = rnd({3, 4}, kFloat64).requires_grad_();
  Tensor w = rnd({4}, kFloat64).requires_grad_();
  Tensor g = rnd({3, 4}, kFloat64);
  auto first = grad({layer_norm(x, {4}, w)}, {x, w}, {.create_graph = true}, {g});
  auto first_ref = grad({layer_norm_composite(x, {4}, w)}, {x, w}, {.create_graph = true}, {g});
  Tensor s = sum(first[0] * first[0]) + sum(first[1] * first[1] * first[1]);
  Tensor s_ref = sum(first_ref[0] * first_ref[0]) + sum(first_ref[1] * first_ref[1] * first_ref[1]);
  auto second = grad({s}, {x, w});
  auto second_ref = grad({s_ref}, {x, w});
  check_close(second[0], second_ref[0], 1e-10);
  check_close(second[1], second_ref[1], 1e-10);
}

TEST_CASE("rms_norm matches a float64 reference") {
  manual_seed(7);
  for (DType dtype : {kFloat64, kFloat32}) {
    Tensor x = rnd({5, 6}, dtype), w = rnd({6}, dtype);
    std::vector<double> xv = values(x), wv = values(w), want(xv.size());
    for (int r = 0; r < 5; ++r) {
      double ms = 0;
      for (int i = 0; i < 6; ++i) ms += xv[r * 6 + i] * xv[r * 6 + i] / 6;
      for (int i = 0; i < 6; ++i) want[r * 6 + i] = xv[r * 6 + i] / std::sqrt(ms + 1e-6) * wv[i];
    }
    check_close(rms_norm(x, {6}, w, 1e-6), want, tol_for(dtype) * 10);
    // Default eps is the dtype's machine epsilon: negligible here.
    check_close(rms_norm(x, {6}, w), want, 1e-4);
  }
}

TEST_CASE("batch_norm trains with batch statistics, updates running stats, evaluates with them") {
  manual_seed(8);
  for (DType dtype : {kFloat64, kFloat32}) {
    for (Shape shape : {Shape{6, 3}, Shape{4, 3, 5}, Shape{2, 3, 4, 2}}) {
      CAPTURE(shape_str(shape));
      const int64_t N = shape[0], C = shape[1], L = shape_numel(shape) / (N * C);
      Tensor x = rnd(shape, dtype, -1, 3), w = rnd({C}, dtype), b = rnd({C}, dtype);
      Tensor rm = rnd({C}, dtype), rv = rnd({C}, dtype, 0.5, 2);
      std::vector<double> xv = values(x), wv = values(w), bv = values(b);
      std::vector<double> rm0 = values(rm), rv0 = values(rv);
      Tensor y = batch_norm(x, rm, rv, w, b, /*training=*/true, 0.2, 1e-4);
      std::vector<double> want(xv.size()), mean(C), var(C);
      auto at = [&](int64_t n, int64_t c, int64_t l) { return (n * C + c) * L + l; };
      for (int64_t c = 0; c < C; ++c) {
        for (int64_t n = 0; n < N; ++n)
          for (int64_t l = 0; l < L; ++l) mean[c] += xv[at(n, c, l)] / (N * L);
        for (int64_t n = 0; n < N; ++n)
          for (int64_t l = 0; l < L; ++l)
            var[c] += std::pow(xv[at(n, c, l)] - mean[c], 2) / (N * L);
        for (int64_t n = 0; n < N; ++n)
          for (int64_t l = 0; l < L; ++l)
            want[at(n, c, l)] =
                (xv[at(n, c, l)] - mean[c]) / std::sqrt(var[c] + 1e-4) * wv[c] + bv[c];
      }
      check_close(y, want, tol_for(dtype) * 10);
      std::vector<double> want_rm(C), want_rv(C);
      const double count = static_cast<double>(N * L);
      for (int64_t c = 0; c < C; ++c) {
        want_rm[c] = 0.8 * rm0[c] + 0.2 * mean[c];
        want_rv[c] = 0.8 * rv0[c] + 0.2 * var[c] * count / (count - 1);  // unbiased
      }
      check_close(rm, want_rm, tol_for(dtype) * 10);
      check_close(rv, want_rv, tol_for(dtype) * 10);

      const std::vector<double> rm_trained = values(rm);
      Tensor e = batch_norm(x, rm, rv, w, b, /*training=*/false, 0.2, 1e-4);
      for (int64_t c = 0; c < C; ++c)
        for (int64_t n = 0; n < N; ++n)
          for (int64_t l = 0; l < L; ++l)
            want[at(n, c, l)] =
                (xv[at(n, c, l)] - want_rm[c]) / std::sqrt(want_rv[c] + 1e-4) * wv[c] + bv[c];
      check_close(e, want, tol_for(dtype) * 10);
      check_close(rm, rm_trained, 0);  // eval leaves the buffers alone
    }
  }
  // The update is in place (a version bump) and leaves the backward intact.
  Tensor x = rnd({4, 2}, kFloat64).requires_grad_();
  Tensor rm = zeros({2}, {.dtype = kFloat64}), rv = ones({2}, {.dtype = kFloat64});
  uint64_t before = rm.version();
  sum(batch_norm(x, rm, rv, {}, {}, true)).backward();
  CHECK(rm.version() > before);
  CHECK(x.grad().defined());
}

TEST_CASE("normalization errors name the op and the shapes") {
  Tensor x = randn({2, 3});
  CHECK_ERROR(layer_norm(x, {4}), "layer_norm", "normalized_shape [4]", "float32[2,3]");
  CHECK_ERROR(layer_norm(x, {2, 3, 1}), "layer_norm", "[2,3,1]", "float32[2,3]");
  CHECK_ERROR(layer_norm(x, {}), "layer_norm", "at least one dimension");
  CHECK_ERROR(layer_norm(x, {3}, randn({4})), "layer_norm", "weight", "float32[4]", "[3]");
  CHECK_ERROR(layer_norm(x, {3}, {}, randn({3, 1})), "layer_norm", "bias", "float32[3,1]");
  CHECK_ERROR(layer_norm(x, {3}, randn({3}, {.dtype = kFloat64})), "layer_norm", "float64[3]",
              "different dtypes");
  CHECK_ERROR(layer_norm(arange(6).reshape({2, 3}), {3}), "layer_norm", "int64[2,3]",
              "floating-point");
  CHECK_ERROR(layer_norm(Tensor(), {3}), "layer_norm", "undefined");
  CHECK_ERROR(layer_norm_composite(x, {2}), "layer_norm", "[2]");
  CHECK_ERROR(rms_norm(x, {2}), "rms_norm", "[2]", "float32[2,3]");
  CHECK_ERROR(rms_norm(x, {3}, randn({2})), "rms_norm", "weight", "float32[2]");
  Tensor rm = zeros({3}), rv = ones({3});
  CHECK_ERROR(batch_norm(randn({3}), rm, rv), "batch_norm", "at least 2 dimensions", "float32[3]");
  CHECK_ERROR(batch_norm(randn({2, 4}), rm, rv), "batch_norm", "running", "float32[3]", "[4]");
  CHECK_ERROR(batch_norm(x, rm, rv, randn({2})), "batch_norm", "weight", "float32[2]");
  CHECK_ERROR(batch_norm(x, {}, {}, {}, {}, false), "batch_norm", "eval mode");
  CHECK_ERROR(batch_norm(randn({1, 3}), rm, rv, {}, {}, true), "batch_norm",
              "more than 1 value per channel", "float32[1,3]");
}
