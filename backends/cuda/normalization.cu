// CUDA layer norm, forward and backward, with the arithmetic of
// backends/cpu/normalization.cpp: row statistics and all sums accumulate in
// double (float32 rows of thousands of elements would lose digits in float),
// per-element products round in T as there. Each row of x [M,N] gets a group
// of threads (group_reduce.cuh); dweight and dbias, sums over the rows, are
// summed per column by chunks of rows into double partials and then over the
// chunks, in a fixed order, so the result does not depend on timing.
#include <cmath>
#include <cstdint>

#include "group_reduce.cuh"

namespace lg::cuda {
namespace {

__device__ inline double add_double(double a, double b) { return a + b; }

template <int G, typename T>
__global__ void layer_norm_rows(T* out, T* mean, T* rstd, const T* x, const T* weight,
                                const T* bias, int64_t M, int64_t N, double eps) {
  const GroupIndex<G> at;
  for (int64_t m = at.first; m < M; m += at.step) {
    const T* row = x + m * N;
    double sum = 0;
    for (int64_t i = at.lane; i < N; i += G) sum += row[i];
    const double mu = group_all_reduce<G>(sum, add_double) / static_cast<double>(N);
    double sq = 0;
    for (int64_t i = at.lane; i < N; i += G) {
      const double d = row[i] - mu;
      sq += d * d;
    }
    const double r = 1.0 / sqrt(group_all_reduce<G>(sq, add_double) / static_cast<double>(N) + eps);
    if (at.lane == 0) {
      mean[m] = static_cast<T>(mu);
      rstd[m] = static_cast<T>(r);
    }
    const T tm = static_cast<T>(mu), tr = static_cast<T>(r);
    T* o = out + m * N;
    for (int64_t i = at.lane; i < N; i += G) {
      T v = (row[i] - tm) * tr;
      if (weight) v *= weight[i];
      if (bias) v += bias[i];
      o[i] = v;
    }
  }
}

// dx of each row: rstd * (gw - mean(gw) - xhat * mean(gw * xhat)), gw = g * w.
template <int G, typename T>
__global__ void layer_norm_dx_rows(T* dx, const T* grad, const T* x, const T* mean, const T* rstd,
                                   const T* weight, int64_t M, int64_t N) {
  const GroupIndex<G> at;
  for (int64_t m = at.first; m < M; m += at.step) {
    const T* g = grad + m * N;
    const T* xr = x + m * N;
    const T mu = mean[m], r = rstd[m];
    double a = 0, s = 0;
    for (int64_t i = at.lane; i < N; i += G) {
      const T gw = weight ? g[i] * weight[i] : g[i];
      a += gw * ((xr[i] - mu) * r);
      s += gw;
    }
    const T ca = static_cast<T>(group_all_reduce<G>(a, add_double) / static_cast<double>(N));
    const T cs = static_cast<T>(group_all_reduce<G>(s, add_double) / static_cast<double>(N));
    for (int64_t i = at.lane; i < N; i += G) {
      const T gw = weight ? g[i] * weight[i] : g[i];
      dx[m * N + i] = r * (gw - cs - (xr[i] - mu) * r * ca);
    }
  }
}

// Rows per chunk of the column sums: enough work per thread, and few chunks
// to add up after.
constexpr int64_t kRowsPerChunk = 256;

// partial[2 * (chunk * N + i)] and [+1]: chunk's sums over its rows of
// g * xhat and of g, for column i.
template <typename T>
__global__ void layer_norm_column_partials(double* partial, const T* grad, const T* x,
                                           const T* mean, const T* rstd, int64_t M, int64_t N,
                                           int64_t chunks) {
  const GroupIndex<1> at;
  for (int64_t task = at.first; task < chunks * N; task += at.step) {
    const int64_t chunk = task / N, i = task % N;
    const int64_t m0 = chunk * kRowsPerChunk;
    const int64_t m1 = M < m0 + kRowsPerChunk ? M : m0 + kRowsPerChunk;
    double sw = 0, sb = 0;
    for (int64_t m = m0; m < m1; ++m) {
      const T g = grad[m * N + i];
      sw += static_cast<double>(g * ((x[m * N + i] - mean[m]) * rstd[m]));
      sb += g;
    }
    partial[2 * task] = sw;
    partial[2 * task + 1] = sb;
  }
}

template <typename T>
__global__ void layer_norm_column_sums(T* dweight, T* dbias, const double* partial, int64_t N,
                                       int64_t chunks) {
  const GroupIndex<1> at;
  for (int64_t i = at.first; i < N; i += at.step) {
    double sw = 0, sb = 0;
    for (int64_t c = 0; c < chunks; ++c) {
      sw += partial[2 * (c * N + i)];
      sb += partial[2 * (c * N + i) + 1];
    }
    if (dweight) dweight[i] = static_cast<T>(sw);
    if (dbias) dbias[i] = static_cast<T>(sb);
  }
}

// Operands defined are [rows, cols] (cols alone when rows < 0), contiguous, of T.
template <typename T>
void check_matrix(const char* op, const Tensor& t, int64_t rows, int64_t cols) {
  if (!t.defined()) return;
  check_operand(op, t, rows < 0 ? Shape{cols} : Shape{rows, cols}, dtype_of<T>());
  LG_CHECK(t.is_contiguous(), op, ": CUDA kernel expected contiguous operands, got ", t.describe());
}

template <typename T>
const T* optional_ptr(const Tensor& t) {
  return t.defined() ? ptr<T>(t) : nullptr;
}

template <typename T>
void layer_norm(const Tensor& out, const Tensor& mean, const Tensor& rstd, const Tensor& x,
                const Tensor& weight, const Tensor& bias, double eps) {
  DeviceScope scope("layer_norm", {&out, &mean, &rstd, &x});
  LG_CHECK(x.dim() == 2, "layer_norm: CUDA kernel expected x [M,N], got ", x.describe());
  const int64_t M = x.shape()[0], N = x.shape()[1];
  check_matrix<T>("layer_norm", x, M, N);
  check_matrix<T>("layer_norm", out, M, N);
  check_matrix<T>("layer_norm", mean, -1, M);
  check_matrix<T>("layer_norm", rstd, -1, M);
  check_matrix<T>("layer_norm", weight, -1, N);
  check_matrix<T>("layer_norm", bias, -1, N);
  if (M == 0) return;
  with_group_size(N, M, [&]<int G>() {
    launch_kernel(layer_norm_rows<G, T>, blocks_for_groups<G>(M), kThreads, 0, ptr<T>(out),
                  ptr<T>(mean), ptr<T>(rstd), ptr<T>(x), optional_ptr<T>(weight),
                  optional_ptr<T>(bias), M, N, eps);
  });
}

template <typename T>
void layer_norm_backward(const Tensor& dx, const Tensor& dweight, const Tensor& dbias,
                         const Tensor& grad, const Tensor& x, const Tensor& mean,
                         const Tensor& rstd, const Tensor& weight) {
  const char* op = "layer_norm backward";
  DeviceScope scope(op, {&grad, &x, &mean, &rstd});
  LG_CHECK(x.dim() == 2, op, ": CUDA kernel expected x [M,N], got ", x.describe());
  const int64_t M = x.shape()[0], N = x.shape()[1];
  for (const Tensor* t : {&dx, &dweight, &dbias, &weight})
    if (t->defined()) DeviceScope operand(op, {t});
  check_matrix<T>(op, x, M, N);
  check_matrix<T>(op, grad, M, N);
  check_matrix<T>(op, dx, M, N);
  check_matrix<T>(op, mean, -1, M);
  check_matrix<T>(op, rstd, -1, M);
  check_matrix<T>(op, weight, -1, N);
  check_matrix<T>(op, dweight, -1, N);
  check_matrix<T>(op, dbias, -1, N);
  if (dx.defined() && M > 0) {
    with_group_size(N, M, [&]<int G>() {
      launch_kernel(layer_norm_dx_rows<G, T>, blocks_for_groups<G>(M), kThreads, 0, ptr<T>(dx),
                    ptr<T>(grad), ptr<T>(x), ptr<T>(mean), ptr<T>(rstd), optional_ptr<T>(weight), M,
                    N);
    });
  }
  if ((!dweight.defined() && !dbias.defined()) || N == 0) return;
  // No rows: one chunk of none, so the sums are 0.
  const int64_t chunks = std::max<int64_t>((M + kRowsPerChunk - 1) / kRowsPerChunk, 1);
  Tensor partial = Tensor::empty({chunks, N, 2}, kFloat64, x.device());
  launch_kernel(layer_norm_column_partials<T>, blocks_for_groups<1>(chunks * N), kThreads, 0,
                ptr<double>(partial), ptr<T>(grad), ptr<T>(x), ptr<T>(mean), ptr<T>(rstd), M, N,
                chunks);
  launch_kernel(layer_norm_column_sums<T>, blocks_for_groups<1>(N), kThreads, 0,
                dweight.defined() ? ptr<T>(dweight) : nullptr,
                dbias.defined() ? ptr<T>(dbias) : nullptr, ptr<double>(partial), N, chunks);
}

}  // namespace

void fill_normalization_kernels(KernelTable& t, DType dtype) {
  if (dtype == kFloat32) {
    t.layer_norm = layer_norm<float>;
    t.layer_norm_backward = layer_norm_backward<float>;
  }
  if (dtype == kFloat64) {
    t.layer_norm = layer_norm<double>;
    t.layer_norm_backward = layer_norm_backward<double>;
  }
}

}  // namespace lg::cuda
