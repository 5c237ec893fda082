// CPU softmax and log_softmax, forward and backward, along any dim of a
// contiguous tensor. The last dim (the common case) runs row by row with
// vectorisable loops; other dims run over [outer, n, inner] blocks with a
// strip of inner lanes at a time, so the loops stay unit-stride there too.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cpu_kernels.h"
#include "softmax_math.h"
#include "strided_loop.h"

namespace lg::cpu {
namespace {

// Lanes of the inner dim handled together off the last dim: wide enough for
// unit-stride vector loops, small enough that the per-lane state stays in L1.
constexpr int64_t kStrip = 64;

using Geometry = DimSplit;

Geometry geometry(const Tensor& t, int64_t dim) { return split_at_dim(t, dim); }

// One row of n contiguous values. A row of only -inf has max -inf: output 0.
template <typename T>
void forward_row(T* out, const T* in, int64_t n, bool log) {
  T m = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t i = 0; i < n; ++i) m = std::max(m, in[i]);
  if (m == -std::numeric_limits<T>::infinity()) {
    std::fill(out, out + n, T(0));
    return;
  }
  if (log) {
    const T log_s = std::log(sum_exp_shifted(in, n, m));
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) out[i] = (in[i] - m) - log_s;
  } else {
    exp_shifted(out, in, n, m);
    T s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) s += out[i];
    const T scale = T(1) / s;
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) out[i] *= scale;
  }
}

// One row's gradient. log_softmax's masked rows are those whose outputs are
// all 0: any other row has sum(exp(y)) = 1, so some y < 0 unless n = 1, where
// the formula gives 0 anyway.
template <typename T>
void backward_row(T* dx, const T* g, const T* y, int64_t n, bool log) {
  if (log) {
    T sg = 0;
    int nonzero = 0;
#pragma omp simd reduction(+ : sg) reduction(| : nonzero)
    for (int64_t i = 0; i < n; ++i) {
      sg += g[i];
      nonzero |= y[i] != T(0);
    }
    if (!nonzero) {
      std::fill(dx, dx + n, T(0));
      return;
    }
    exp_shifted(dx, y, n, T(0));
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) dx[i] = g[i] - dx[i] * sg;
  } else {
    T dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int64_t i = 0; i < n; ++i) dot += g[i] * y[i];
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) dx[i] = y[i] * (g[i] - dot);
  }
}

// A strip of w lanes (stride `inner`) of one [n, inner] block.
template <typename T>
void forward_strip(T* out, const T* in, int64_t n, int64_t inner, int64_t w, bool log) {
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  T m[kStrip], s[kStrip];
  std::fill(m, m + w, kNegInf);
  std::fill(s, s + w, T(0));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < w; ++j) m[j] = std::max(m[j], in[i * inner + j]);
  // A masked lane uses shift 0, so that its exp(-inf) terms are 0, not NaN.
  T shift[kStrip], e[kStrip];
  for (int64_t j = 0; j < w; ++j) shift[j] = m[j] == kNegInf ? T(0) : m[j];
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < w; ++j) e[j] = in[i * inner + j] - shift[j];
    exp_inplace(e, w);
    for (int64_t j = 0; j < w; ++j) {
      if (!log) out[i * inner + j] = e[j];
      s[j] += e[j];
    }
  }
  // log: (x - shift) - log(s), which keeps the precision of x - shift near
  // large shifts; softmax: the scale 1 / s.
  for (int64_t j = 0; j < w; ++j) {
    bool masked = m[j] == kNegInf;
    s[j] = masked ? T(0) : log ? std::log(s[j]) : T(1) / s[j];
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < w; ++j) {
      T* o = out + i * inner + j;
      if (log)
        *o = m[j] == kNegInf ? T(0) : (in[i * inner + j] - shift[j]) - s[j];
      else
        *o *= s[j];
    }
}

template <typename T>
void backward_strip(T* dx, const T* g, const T* y, int64_t n, int64_t inner, int64_t w, bool log) {
  T acc[kStrip];
  int nonzero[kStrip];
  std::fill(acc, acc + w, T(0));
  std::fill(nonzero, nonzero + w, 0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < w; ++j) {
      int64_t k = i * inner + j;
      acc[j] += log ? g[k] : g[k] * y[k];
      nonzero[j] |= y[k] != T(0);
    }
  for (int64_t i = 0; i < n; ++i) {
    T* d = dx + i * inner;
    const T* gi = g + i * inner;
    const T* yi = y + i * inner;
    if (!log) {
      for (int64_t j = 0; j < w; ++j) d[j] = yi[j] * (gi[j] - acc[j]);
      continue;
    }
    exp_shifted(d, yi, w, T(0));
    for (int64_t j = 0; j < w; ++j) d[j] = nonzero[j] ? gi[j] - d[j] * acc[j] : T(0);
  }
}

// Runs row(i) for each of `rows` rows of n elements, or strip(o, j0, w) for
// each strip of each outer block, in parallel when the work is large.
template <typename Row, typename Strip>
void for_each_slice(const Geometry& geo, Row&& row, Strip&& strip) {
  const bool parallel = geo.outer * geo.n * geo.inner >= kParallelGrain;
  if (geo.inner == 1) {
    parallel_for(0, geo.outer, grain_when(parallel), [&](int64_t r) { row(r); });
    return;
  }
  const int64_t strips = (geo.inner + kStrip - 1) / kStrip;
  parallel_for(0, geo.outer * strips, grain_when(parallel), [&](int64_t task) {
    int64_t o = task / strips, j0 = task % strips * kStrip;
    strip(o, j0, std::min(kStrip, geo.inner - j0));
  });
}

template <typename T>
void softmax(const Tensor& out, const Tensor& in, int64_t dim, bool log) {
  const Geometry geo = geometry(in, dim);
  const T* x = ptr<T>(in);
  T* y = ptr<T>(out);
  const int64_t block = geo.n * geo.inner;
  for_each_slice(
      geo, [&](int64_t r) { forward_row(y + r * geo.n, x + r * geo.n, geo.n, log); },
      [&](int64_t o, int64_t j0, int64_t w) {
        forward_strip(y + o * block + j0, x + o * block + j0, geo.n, geo.inner, w, log);
      });
}

template <typename T>
void softmax_backward(const Tensor& grad_in, const Tensor& grad_out, const Tensor& out, int64_t dim,
                      bool log) {
  const Geometry geo = geometry(out, dim);
  T* dx = ptr<T>(grad_in);
  const T* g = ptr<T>(grad_out);
  const T* y = ptr<T>(out);
  const int64_t block = geo.n * geo.inner;
  for_each_slice(
      geo,
      [&](int64_t r) { backward_row(dx + r * geo.n, g + r * geo.n, y + r * geo.n, geo.n, log); },
      [&](int64_t o, int64_t j0, int64_t w) {
        int64_t at = o * block + j0;
        backward_strip(dx + at, g + at, y + at, geo.n, geo.inner, w, log);
      });
}

}  // namespace

void fill_softmax_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      t.softmax = softmax<T>;
      t.softmax_backward = softmax_backward<T>;
    }
  });
}

}  // namespace lg::cpu
