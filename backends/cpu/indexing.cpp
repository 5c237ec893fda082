// CPU indexing kernels: index_select and gather, and their adjoints index_add
// and scatter_add (used by the backwards). Indices arrive validated.
#include <algorithm>
#include <vector>

#include "../integer_math.h"
#include "cpu_kernels.h"
#include "strided_loop.h"

namespace lg::cpu {
namespace {

// Columns per task in the accumulating kernels: tasks own disjoint columns,
// so repeated indices never race.
constexpr int64_t kColumnBlock = 256;

template <typename T>
void index_select(const Tensor& out, const Tensor& in, const Tensor& index) {
  const int64_t A = in.shape()[0], n = in.shape()[1], B = in.shape()[2];
  const int64_t K = index.numel();
  const T* src = ptr<T>(in);
  const int64_t* idx = ptr<int64_t>(index);
  T* dst = ptr<T>(out);
  parallel_for(0, A * K, grain_for(B), [&](int64_t ak) {
    const int64_t a = ak / K, k = ak % K;
    std::copy_n(src + (a * n + idx[k]) * B, B, dst + ak * B);
  });
}

template <typename T>
void index_add(const Tensor& out, const Tensor& index, const Tensor& src) {
  const int64_t A = out.shape()[0], n = out.shape()[1], B = out.shape()[2];
  const int64_t K = index.numel();
  const int64_t blocks = (B + kColumnBlock - 1) / kColumnBlock;
  const T* s = ptr<T>(src);
  const int64_t* idx = ptr<int64_t>(index);
  T* o = ptr<T>(out);
  parallel_for(0, A * blocks, grain_when(A * K * B >= kParallelGrain), [&](int64_t task) {
    const int64_t a = task / blocks, c = task % blocks;
    const int64_t b0 = c * kColumnBlock, b1 = std::min(B, b0 + kColumnBlock);
    for (int64_t k = 0; k < K; ++k) {
      T* orow = o + (a * n + idx[k]) * B;
      const T* srow = s + (a * K + k) * B;
#pragma omp simd
      for (int64_t b = b0; b < b1; ++b) orow[b] = integer_math::add<T>(orow[b], srow[b]);
    }
  });
}

// Element offsets under `strides` of every position of shape[begin, end), in
// row-major order.
std::vector<int64_t> offsets(const Shape& shape, const Shape& strides, int64_t begin, int64_t end) {
  std::vector<int64_t> out{0};
  for (int64_t d = begin; d < end; ++d) {
    std::vector<int64_t> next;
    next.reserve(out.size() * shape[d]);
    for (int64_t base : out)
      for (int64_t k = 0; k < shape[d]; ++k) next.push_back(base + k * strides[d]);
    out = std::move(next);
  }
  return out;
}

// The index's shape split around dim: [outer, L, inner], with the offsets of
// the outer and inner positions in a tensor of the given strides.
struct Fibers {
  int64_t outer, L, inner;
  std::vector<int64_t> outer_off, inner_off;
};

Fibers fibers(const Shape& index_shape, const Shape& strides, int64_t dim) {
  const int64_t nd = static_cast<int64_t>(index_shape.size());
  Fibers f;
  f.outer_off = offsets(index_shape, strides, 0, dim);
  f.inner_off = offsets(index_shape, strides, dim + 1, nd);
  f.outer = static_cast<int64_t>(f.outer_off.size());
  f.inner = static_cast<int64_t>(f.inner_off.size());
  f.L = index_shape[dim];
  return f;
}

template <typename T>
void gather(const Tensor& out, const Tensor& in, int64_t dim, const Tensor& index) {
  if (index.numel() == 0) return;
  const Fibers f = fibers(index.shape(), in.strides(), dim);
  const int64_t stride = in.strides()[dim];
  const T* src = ptr<T>(in);
  const int64_t* idx = ptr<int64_t>(index);
  T* dst = ptr<T>(out);
  parallel_for(0, f.outer * f.L, grain_for(f.inner), [&](int64_t oj) {
    const int64_t o = oj / f.L;
    const int64_t row = oj * f.inner;
    const T* base = src + f.outer_off[o];
    for (int64_t i = 0; i < f.inner; ++i)
      dst[row + i] = base[f.inner_off[i] + idx[row + i] * stride];
  });
}

template <typename T>
void scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  if (index.numel() == 0) return;
  const Fibers fo = fibers(index.shape(), out.strides(), dim);
  const Fibers fs = fibers(index.shape(), src.strides(), dim);
  const int64_t out_stride = out.strides()[dim], src_stride = src.strides()[dim];
  const int64_t blocks = (fo.inner + kColumnBlock - 1) / kColumnBlock;
  const T* s = ptr<T>(src);
  const int64_t* idx = ptr<int64_t>(index);
  T* o = ptr<T>(out);
  // Positions that differ only along dim may hit one output element: each
  // task owns an (outer, inner block) pair and walks dim serially.
  parallel_for(0, fo.outer * blocks, grain_when(index.numel() >= kParallelGrain),
               [&](int64_t task) {
                 const int64_t a = task / blocks, c = task % blocks;
                 const int64_t i0 = c * kColumnBlock, i1 = std::min(fo.inner, i0 + kColumnBlock);
                 for (int64_t j = 0; j < fo.L; ++j) {
                   const int64_t row = (a * fo.L + j) * fo.inner;
                   T* obase = o + fo.outer_off[a];
                   const T* sbase = s + fs.outer_off[a] + j * src_stride;
                   for (int64_t i = i0; i < i1; ++i) {
                     T& target = obase[fo.inner_off[i] + idx[row + i] * out_stride];
                     target = integer_math::add<T>(target, sbase[fs.inner_off[i]]);  // integers wrap
                   }
                 }
               });
}

}  // namespace

void fill_indexing_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    t.index_select = index_select<T>;
    t.gather = gather<T>;
    if constexpr (!std::is_same_v<T, bool>) {
      t.index_add = index_add<T>;
      t.scatter_add = scatter_add<T>;
    }
  });
}

}  // namespace lg::cpu
