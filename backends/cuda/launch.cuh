// Elementwise iteration for the CUDA kernels: the host merges the dims of the
// operands (as the CPU backend does), passes sizes and strides to the kernel
// by value, and a grid-stride loop maps each flat index to per-operand offsets.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>

#include "kernel_launch.cuh"

namespace lg::cuda {

inline constexpr int kMaxDims = 8;
inline constexpr int kThreads = 256;
// Enough blocks to fill any current GPU; the grid-stride loop covers the rest.
inline constexpr int64_t kMaxBlocks = 65535;

// Sizes and per-operand element strides of N operands, innermost dim last.
template <int N>
struct Geometry {
  int ndim = 0;
  bool dense = false;  // one dim, all strides 1: offsets equal the flat index
  int64_t sizes[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};
};

// Drops size-1 dims and merges dims that are contiguous for every operand.
template <int N>
Geometry<N> make_geometry(const char* op, const Shape& shape,
                          const std::array<const Shape*, N>& strides) {
  Geometry<N> g;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (g.ndim > 0) {
      bool merge = true;
      for (int k = 0; k < N; ++k)
        merge = merge && g.strides[k][g.ndim - 1] == (*strides[k])[d] * shape[d];
      if (merge) {
        g.sizes[g.ndim - 1] *= shape[d];
        for (int k = 0; k < N; ++k) g.strides[k][g.ndim - 1] = (*strides[k])[d];
        continue;
      }
    }
    LG_CHECK(g.ndim < kMaxDims, op, ": the CUDA kernels take at most ", kMaxDims,
             " dimensions that do not merge, got shape ", shape_str(shape), " with strides ",
             shape_str(*strides[0]));
    g.sizes[g.ndim] = shape[d];
    for (int k = 0; k < N; ++k) g.strides[k][g.ndim] = (*strides[k])[d];
    ++g.ndim;
  }
  if (g.ndim == 0) {  // a single element
    g.ndim = 1;
    g.sizes[0] = 1;
    for (int k = 0; k < N; ++k) g.strides[k][0] = 1;
  }
  g.dense = g.ndim == 1;
  for (int k = 0; k < N; ++k) g.dense = g.dense && g.strides[k][0] == 1;
  return g;
}

// Operands come as views with the output's shape and the table's dtype
// (core/kernels.h); a mismatch would read or write out of bounds, so it is an
// error here rather than a crash.
inline void check_operand(const char* op, const Tensor& t, const Shape& shape, DType dtype) {
  LG_CHECK(t.shape() == shape && t.dtype() == dtype, op, ": CUDA kernel expected an operand ",
           dtype_name(dtype), shape_str(shape), ", got ", t.describe());
}

// Calls f(i, offsets) for every flat index i < n; offsets[k] is operand k's
// element offset from its base pointer.
template <int N, typename F>
__global__ void elementwise_kernel(int64_t n, Geometry<N> g, F f) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[N];
    if (g.dense) {
      for (int k = 0; k < N; ++k) off[k] = i;
    } else {
      for (int k = 0; k < N; ++k) off[k] = 0;
      int64_t rest = i;
      for (int d = g.ndim - 1; d >= 0; --d) {
        const int64_t idx = rest % g.sizes[d];
        rest /= g.sizes[d];
        for (int k = 0; k < N; ++k) off[k] += idx * g.strides[k][d];
      }
    }
    f(i, off);
  }
}

// Runs f over `shape` with one stride list per operand (operand 0 is the output).
template <int N, typename F>
void launch(const char* op, const Shape& shape, const std::array<const Shape*, N>& strides,
            const F& f) {
  const int64_t n = shape_numel(shape);
  if (n == 0) return;
  const Geometry<N> g = make_geometry<N>(op, shape, strides);
  const int blocks = static_cast<int>(std::min<int64_t>((n + kThreads - 1) / kThreads, kMaxBlocks));
  launch_kernel(elementwise_kernel<N, F>, blocks, kThreads, 0, n, g, f);
}

}  // namespace lg::cuda
