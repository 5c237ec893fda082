// CUDA softmax and log_softmax, forward and backward, along any dim of a
// contiguous tensor, with the formulas of backends/cpu/softmax.cpp (sums in
// T, as there). The tensor is seen as [outer, n, inner]: along the last dim
// (inner 1) each row gets a warp or a block (group_reduce.cuh); otherwise each
// of the outer * inner lanes gets a thread that walks its n elements, inner
// apart, so neighbouring threads read neighbouring elements.
//
// A row of only -inf has max -inf and gives 0 (forward) and 0 (backward,
// whose masked rows are those whose outputs are all 0, as on the CPU).
#include <cmath>
#include <cstdint>

#include "device_math.cuh"
#include "group_reduce.cuh"

namespace lg::cuda {
namespace {

// std::max(m, v) of the CPU's loop: a NaN v leaves m as it is.
template <typename T>
__device__ inline T max_of(T m, T v) {
  return m < v ? v : m;
}

using SoftmaxShape = DimSplit;

SoftmaxShape softmax_shape(const Tensor& t, int64_t dim) { return split_at_dim(t, dim); }

// ---- rows (inner == 1): a group of G threads per row ----

template <int G, typename T>
__global__ void forward_rows(T* out, const T* in, int64_t rows, int64_t n, bool log) {
  const GroupIndex<G> at;
  for (int64_t r = at.first; r < rows; r += at.step) {
    const T* x = in + r * n;
    T* y = out + r * n;
    T m = -T(INFINITY);
    for (int64_t i = at.lane; i < n; i += G) m = max_of(m, x[i]);
    m = group_all_reduce<G>(m, [](T a, T b) { return max_of(a, b); });
    if (m == -T(INFINITY)) {
      for (int64_t i = at.lane; i < n; i += G) y[i] = T(0);
      continue;
    }
    T s = 0;
    for (int64_t i = at.lane; i < n; i += G) {
      const T e = exp_of(x[i] - m);
      if (!log) y[i] = e;
      s += e;
    }
    s = group_all_reduce<G>(s, [](T a, T b) { return a + b; });
    if (log) {
      const T log_s = log_of(s);
      for (int64_t i = at.lane; i < n; i += G) y[i] = (x[i] - m) - log_s;
    } else {
      const T scale = T(1) / s;
      for (int64_t i = at.lane; i < n; i += G) y[i] *= scale;  // this lane's own writes
    }
  }
}

template <int G, typename T>
__global__ void backward_rows(T* dx, const T* grad, const T* out, int64_t rows, int64_t n,
                              bool log) {
  const GroupIndex<G> at;
  for (int64_t r = at.first; r < rows; r += at.step) {
    const T* g = grad + r * n;
    const T* y = out + r * n;
    T* d = dx + r * n;
    // log: sum(g) and whether any output is nonzero; softmax: sum(g * y).
    T acc = 0;
    int nonzero = 0;
    for (int64_t i = at.lane; i < n; i += G) {
      acc += log ? g[i] : g[i] * y[i];
      nonzero |= y[i] != T(0);
    }
    acc = group_all_reduce<G>(acc, [](T a, T b) { return a + b; });
    if (log) {
      nonzero = group_all_reduce<G>(nonzero, [](int a, int b) { return a | b; });
      for (int64_t i = at.lane; i < n; i += G) d[i] = nonzero ? g[i] - exp_of(y[i]) * acc : T(0);
    } else {
      for (int64_t i = at.lane; i < n; i += G) d[i] = y[i] * (g[i] - acc);
    }
  }
}

// ---- lanes (inner > 1): a thread per (outer, inner) lane ----

template <typename T>
__global__ void forward_lanes(T* out, const T* in, SoftmaxShape s, bool log) {
  const GroupIndex<1> at;
  for (int64_t lane = at.first; lane < s.outer * s.inner; lane += at.step) {
    const int64_t start = lane / s.inner * s.n * s.inner + lane % s.inner;
    const T* x = in + start;
    T* y = out + start;
    T m = -T(INFINITY);
    for (int64_t i = 0; i < s.n; ++i) m = max_of(m, x[i * s.inner]);
    if (m == -T(INFINITY)) {
      for (int64_t i = 0; i < s.n; ++i) y[i * s.inner] = T(0);
      continue;
    }
    T sum = 0;
    for (int64_t i = 0; i < s.n; ++i) {
      const T e = exp_of(x[i * s.inner] - m);
      if (!log) y[i * s.inner] = e;
      sum += e;
    }
    if (log) {
      const T log_s = log_of(sum);
      for (int64_t i = 0; i < s.n; ++i) y[i * s.inner] = (x[i * s.inner] - m) - log_s;
    } else {
      const T scale = T(1) / sum;
      for (int64_t i = 0; i < s.n; ++i) y[i * s.inner] *= scale;
    }
  }
}

template <typename T>
__global__ void backward_lanes(T* dx, const T* grad, const T* out, SoftmaxShape s, bool log) {
  const GroupIndex<1> at;
  for (int64_t lane = at.first; lane < s.outer * s.inner; lane += at.step) {
    const int64_t start = lane / s.inner * s.n * s.inner + lane % s.inner;
    const T* g = grad + start;
    const T* y = out + start;
    T* d = dx + start;
    T acc = 0;
    bool nonzero = false;
    for (int64_t i = 0; i < s.n; ++i) {
      const int64_t k = i * s.inner;
      acc += log ? g[k] : g[k] * y[k];
      nonzero = nonzero || y[k] != T(0);
    }
    for (int64_t i = 0; i < s.n; ++i) {
      const int64_t k = i * s.inner;
      d[k] = !log ? y[k] * (g[k] - acc) : nonzero ? g[k] - exp_of(y[k]) * acc : T(0);
    }
  }
}

void check_operands(const char* name, std::initializer_list<const Tensor*> tensors,
                    const Shape& shape, DType dtype, int64_t dim) {
  for (const Tensor* t : tensors) {
    check_operand(name, *t, shape, dtype);
    LG_CHECK(t->is_contiguous(), name, ": CUDA kernel expected contiguous operands, got ",
             t->describe());
  }
  LG_CHECK(dim >= 0 && dim < std::max<int64_t>(static_cast<int64_t>(shape.size()), 1), name,
           ": dim ", dim, " out of range for shape ", shape_str(shape));
}

template <typename T>
void softmax(const Tensor& out, const Tensor& in, int64_t dim, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  DeviceScope scope(name, {&out, &in});
  check_operands(name, {&out, &in}, in.shape(), dtype_of<T>(), dim);
  const SoftmaxShape s = softmax_shape(in, dim);
  if (s.outer * s.n * s.inner == 0) return;
  if (s.inner == 1) {
    with_group_size(s.n, s.outer, [&]<int G>() {
      launch_kernel(forward_rows<G, T>, blocks_for_groups<G>(s.outer), kThreads, 0, ptr<T>(out),
                    ptr<T>(in), s.outer, s.n, log);
    });
  } else {
    launch_kernel(forward_lanes<T>, blocks_for_groups<1>(s.outer * s.inner), kThreads, 0,
                  ptr<T>(out), ptr<T>(in), s, log);
  }
}

template <typename T>
void softmax_backward(const Tensor& grad_in, const Tensor& grad_out, const Tensor& out, int64_t dim,
                      bool log) {
  const char* name = log ? "log_softmax backward" : "softmax backward";
  DeviceScope scope(name, {&grad_in, &grad_out, &out});
  check_operands(name, {&grad_in, &grad_out, &out}, out.shape(), dtype_of<T>(), dim);
  const SoftmaxShape s = softmax_shape(out, dim);
  if (s.outer * s.n * s.inner == 0) return;
  if (s.inner == 1) {
    with_group_size(s.n, s.outer, [&]<int G>() {
      launch_kernel(backward_rows<G, T>, blocks_for_groups<G>(s.outer), kThreads, 0,
                    ptr<T>(grad_in), ptr<T>(grad_out), ptr<T>(out), s.outer, s.n, log);
    });
  } else {
    launch_kernel(backward_lanes<T>, blocks_for_groups<1>(s.outer * s.inner), kThreads, 0,
                  ptr<T>(grad_in), ptr<T>(grad_out), ptr<T>(out), s, log);
  }
}

}  // namespace

void fill_softmax_kernels(KernelTable& t, DType dtype) {
  if (dtype == kFloat32) {
    t.softmax = softmax<float>;
    t.softmax_backward = softmax_backward<float>;
  }
  if (dtype == kFloat64) {
    t.softmax = softmax<double>;
    t.softmax_backward = softmax_backward<double>;
  }
}

}  // namespace lg::cuda
