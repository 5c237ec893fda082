// CPU normalization kernels: fused layer norm forward (per-row mean and rstd
// saved for the backward) and its fused backward (dx, dweight, dbias in one pass).
#include <cmath>
#include <vector>

#include "cpu_kernels.h"
#include "strided_loop.h"

namespace lg::cpu {
namespace {

// Row statistics are accumulated in double: float32 rows of thousands of
// elements would otherwise lose digits in the variance.
template <typename T>
void layer_norm(const Tensor& out, const Tensor& mean, const Tensor& rstd, const Tensor& x,
                const Tensor& weight, const Tensor& bias, double eps) {
  const int64_t M = x.shape()[0], N = x.shape()[1];
  const T* px = ptr<T>(x);
  T* po = ptr<T>(out);
  T* pm = ptr<T>(mean);
  T* pr = ptr<T>(rstd);
  const T* w = weight.defined() ? ptr<T>(weight) : nullptr;
  const T* b = bias.defined() ? ptr<T>(bias) : nullptr;
  parallel_for(0, M, std::max<int64_t>(grain_for(N), 2), [&](int64_t m) {
    const T* row = px + m * N;
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < N; ++i) sum += row[i];
    const double mu = sum / static_cast<double>(N);
    double sq = 0;
#pragma omp simd reduction(+ : sq)
    for (int64_t i = 0; i < N; ++i) {
      const double d = row[i] - mu;
      sq += d * d;
    }
    const double r = 1.0 / std::sqrt(sq / static_cast<double>(N) + eps);
    pm[m] = static_cast<T>(mu);
    pr[m] = static_cast<T>(r);
    const T tm = static_cast<T>(mu), tr = static_cast<T>(r);
    T* o = po + m * N;
    for (int64_t i = 0; i < N; ++i) o[i] = (row[i] - tm) * tr;
    if (w)
      for (int64_t i = 0; i < N; ++i) o[i] *= w[i];
    if (b)
      for (int64_t i = 0; i < N; ++i) o[i] += b[i];
  });
}

// dx for one row: rstd * (gw - mean(gw) - xhat * mean(gw * xhat)), gw = g * w.
template <typename T, bool kHasWeight>
void layer_norm_dx_row(T* dx, const T* g, const T* x, const T* w, T mu, T r, int64_t N) {
  double a = 0, s = 0;
#pragma omp simd reduction(+ : a, s)
  for (int64_t i = 0; i < N; ++i) {
    const T gw = kHasWeight ? g[i] * w[i] : g[i];
    a += gw * ((x[i] - mu) * r);
    s += gw;
  }
  const T ca = static_cast<T>(a / static_cast<double>(N));
  const T cs = static_cast<T>(s / static_cast<double>(N));
#pragma omp simd
  for (int64_t i = 0; i < N; ++i) {
    const T gw = kHasWeight ? g[i] * w[i] : g[i];
    dx[i] = r * (gw - cs - (x[i] - mu) * r * ca);
  }
}

template <typename T>
void layer_norm_backward(const Tensor& dx, const Tensor& dweight, const Tensor& dbias,
                         const Tensor& grad, const Tensor& x, const Tensor& mean,
                         const Tensor& rstd, const Tensor& weight) {
  const int64_t M = x.shape()[0], N = x.shape()[1];
  const T* pg = ptr<T>(grad);
  const T* px = ptr<T>(x);
  const T* pm = ptr<T>(mean);
  const T* pr = ptr<T>(rstd);
  const T* w = weight.defined() ? ptr<T>(weight) : nullptr;
  T* pdx = dx.defined() ? ptr<T>(dx) : nullptr;
  const bool want_w = dweight.defined(), want_b = dbias.defined();
  const int threads = team_size(M, grain_for(N));
  // Per-thread partial sums of dweight and dbias, added in thread order after
  // the loop, so the result does not depend on timing.
  std::vector<double> partial((want_w || want_b) ? 2 * N * threads : 0, 0.0);
  parallel_region(threads, [&](Worker& worker) {
    double* acc_w = partial.empty() ? nullptr : partial.data() + 2 * N * worker.index();
    double* acc_b = acc_w ? acc_w + N : nullptr;
    worker.for_each(0, M, Schedule::Static, [&](int64_t m) {
      const T* g = pg + m * N;
      const T* xr = px + m * N;
      const T mu = pm[m], r = pr[m];
      if (pdx) {
        if (w)
          layer_norm_dx_row<T, true>(pdx + m * N, g, xr, w, mu, r, N);
        else
          layer_norm_dx_row<T, false>(pdx + m * N, g, xr, w, mu, r, N);
      }
      if (want_w) {
#pragma omp simd
        for (int64_t i = 0; i < N; ++i) acc_w[i] += static_cast<double>(g[i] * ((xr[i] - mu) * r));
      }
      if (want_b) {
#pragma omp simd
        for (int64_t i = 0; i < N; ++i) acc_b[i] += g[i];
      }
    });
  });
  if (partial.empty()) return;
  T* dw = want_w ? ptr<T>(dweight) : nullptr;
  T* db = want_b ? ptr<T>(dbias) : nullptr;
  for (int64_t i = 0; i < N; ++i) {
    double sw = 0, sb = 0;
    for (int t = 0; t < threads; ++t) {
      sw += partial[2 * N * t + i];
      sb += partial[2 * N * t + N + i];
    }
    if (dw) dw[i] = static_cast<T>(sw);
    if (db) db[i] = static_cast<T>(sb);
  }
}

}  // namespace

void fill_normalization_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      t.layer_norm = layer_norm<T>;
      t.layer_norm_backward = layer_norm_backward<T>;
    }
  });
}

}  // namespace lg::cpu
