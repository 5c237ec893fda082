// CPU reductions: sum/max/min over any set of dims, argmax/argmin along one
// dim, and cumsum (prefix sums) along one dim. Fast paths for the layouts
// training hits most (reducing the innermost or the outermost dims of a
// contiguous tensor, or both around kept ones).
#include <cmath>
#include <limits>
#include <numeric>

#include "cpu_kernels.h"
#include "strided_loop.h"

namespace lg::cpu {
namespace {

// Sums accumulate in SumAccumulator<T> (core/kernels.h): double, or the
// unsigned type that wraps as PyTorch does.
template <typename T>
using Acc = SumAccumulator<T>;

template <typename T>
struct SumOp {
  using A = Acc<T>;
  static A init() { return A(0); }
  static A combine(A acc, T v) { return acc + A(v); }
};
template <typename T>
struct MaxOp {
  using A = T;
  // -inf where the type has it, so that a slice of all -inf reduces to -inf.
  static A init() {
    if constexpr (std::numeric_limits<T>::has_infinity)
      return -std::numeric_limits<T>::infinity();
    else
      return std::numeric_limits<T>::lowest();
  }
  static A combine(A acc, T v) { return (v != v || v > acc) ? v : acc; }  // NaN wins
};
template <typename T>
struct MinOp {
  using A = T;
  static A init() {
    if constexpr (std::numeric_limits<T>::has_infinity)
      return std::numeric_limits<T>::infinity();
    else
      return std::numeric_limits<T>::max();
  }
  static A combine(A acc, T v) { return (v != v || v < acc) ? v : acc; }
};

// out[k] = reduce over r of in[r * K + k] (reduced dims lead, input contiguous).
template <typename T, typename Op>
void reduce_leading(T* out, const T* in, int64_t R, int64_t K) {
  // Each chunk of columns walks every row once, so chunks are few and wide.
  const int64_t chunks =
      R * K >= kParallelGrain ? std::min<int64_t>(omp_get_max_threads(), (K + 63) / 64) : 1;
  parallel_for(0, chunks, 2, [&](int64_t c) {
    const int64_t k0 = K * c / chunks, k1 = K * (c + 1) / chunks;
    std::vector<typename Op::A> acc(k1 - k0, Op::init());
    for (int64_t r = 0; r < R; ++r) {
      const T* row = in + r * K;
      for (int64_t k = k0; k < k1; ++k) acc[k - k0] = Op::combine(acc[k - k0], row[k]);
    }
    for (int64_t k = k0; k < k1; ++k) out[k] = static_cast<T>(acc[k - k0]);
  });
}

// out[k] = reduce of the contiguous block in[k * R, (k + 1) * R).
template <typename T, typename Op>
void reduce_trailing(T* out, const T* in, int64_t K, int64_t R) {
  parallel_for(0, K, grain_for(R), [&](int64_t k) {
    const T* block = in + k * R;
    typename Op::A acc = Op::init();
    if constexpr (std::is_same_v<Op, SumOp<T>>) {
#pragma omp simd reduction(+ : acc)
      for (int64_t r = 0; r < R; ++r) acc += typename Op::A(block[r]);
    } else {
      for (int64_t r = 0; r < R; ++r) acc = Op::combine(acc, block[r]);
    }
    out[k] = static_cast<T>(acc);
  });
}

// out[k] = reduce over r and i of in[(r * K + k) * I + i]: reduced dims
// around the kept ones (conv's bias gradient sums [N, C, H, W] over N, H, W).
template <typename T, typename Op>
void reduce_around(T* out, const T* in, int64_t R, int64_t K, int64_t I) {
  parallel_for(0, K, grain_for(R * I), [&](int64_t k) {
    typename Op::A acc = Op::init();
    for (int64_t r = 0; r < R; ++r) {
      const T* block = in + (r * K + k) * I;
      if constexpr (std::is_same_v<Op, SumOp<T>>) {
        typename Op::A part = 0;
#pragma omp simd reduction(+ : part)
        for (int64_t i = 0; i < I; ++i) part += typename Op::A(block[i]);
        acc += part;
      } else {
        for (int64_t i = 0; i < I; ++i) acc = Op::combine(acc, block[i]);
      }
    }
    out[k] = static_cast<T>(acc);
  });
}

template <typename T, typename Op>
void reduce_generic(const Tensor& out, const Tensor& in, const std::vector<int64_t>& dims) {
  // Kept dims index the output; reduced dims are walked per output element,
  // over one coalesced layout built here (nothing is allocated per element).
  Shape kept_shape, kept_strides, red_shape, red_strides;
  for (int64_t d = 0; d < in.dim(); ++d) {
    bool reduced = std::find(dims.begin(), dims.end(), d) != dims.end();
    (reduced ? red_shape : kept_shape).push_back(in.shape()[d]);
    (reduced ? red_strides : kept_strides).push_back(in.strides()[d]);
  }
  const int64_t K = shape_numel(kept_shape);
  const int64_t R = shape_numel(red_shape);
  const Shape kept_contig = contiguous_strides(kept_shape);
  const Layout<1> reduced = coalesce<1>(red_shape, {&red_strides});
  const T* base = ptr<T>(in);
  T* o = ptr<T>(out);
  parallel_for(0, K, std::max<int64_t>(grain_for(R), 2), [&](int64_t k) {
    int64_t off = 0, rem = k;
    for (size_t d = 0; d < kept_shape.size(); ++d) {
      off += (rem / kept_contig[d]) * kept_strides[d];
      rem %= kept_contig[d];
    }
    typename Op::A acc = Op::init();
    if (R > 0) {
      for_each_run_in(reduced, 0, R, [&](int64_t n, auto roff, auto st) {
        const T* p = base + off + roff[0];
        for (int64_t i = 0; i < n; ++i) acc = Op::combine(acc, p[i * st[0]]);
      });
    }
    o[k] = static_cast<T>(acc);
  });
}

template <typename T, typename Op>
void reduce_with(const Tensor& out, const Tensor& in, const std::vector<int64_t>& dims) {
  if (in.is_contiguous() && !dims.empty()) {
    bool leading = true, trailing = true;
    for (size_t i = 0; i < dims.size(); ++i) {
      leading = leading && dims[i] == static_cast<int64_t>(i);
      trailing = trailing && dims[i] == in.dim() - static_cast<int64_t>(dims.size() - i);
    }
    int64_t R = 1;
    for (int64_t d : dims) R *= in.shape()[d];
    int64_t K = in.numel() / std::max<int64_t>(R, 1);
    if (R > 0 && trailing) return reduce_trailing<T, Op>(ptr<T>(out), ptr<T>(in), K, R);
    if (R > 0 && leading) return reduce_leading<T, Op>(ptr<T>(out), ptr<T>(in), R, K);
    // Dims 0 .. a-1 and b .. dim-1 reduced, a < b: the kept ones between.
    std::vector<bool> reduced(static_cast<size_t>(in.dim()), false);
    for (int64_t d : dims) reduced[static_cast<size_t>(d)] = true;
    int64_t a = 0, b = in.dim();
    while (a < in.dim() && reduced[static_cast<size_t>(a)]) ++a;
    while (b > a && reduced[static_cast<size_t>(b - 1)]) --b;
    if (R > 0 && a > 0 && b < in.dim() && a + (in.dim() - b) == static_cast<int64_t>(dims.size())) {
      int64_t lead = 1, inner = 1;
      for (int64_t d = 0; d < a; ++d) lead *= in.shape()[d];
      for (int64_t d = b; d < in.dim(); ++d) inner *= in.shape()[d];
      return reduce_around<T, Op>(ptr<T>(out), ptr<T>(in), lead, K, inner);
    }
  }
  reduce_generic<T, Op>(out, in, dims);
}

template <typename T>
void reduce(ReduceOp op, const Tensor& out, const Tensor& in, const std::vector<int64_t>& dims) {
  switch (op) {
    case ReduceOp::Sum:
      return reduce_with<T, SumOp<T>>(out, in, dims);
    case ReduceOp::Max:
      return reduce_with<T, MaxOp<T>>(out, in, dims);
    case ReduceOp::Min:
      return reduce_with<T, MinOp<T>>(out, in, dims);
    case ReduceOp::Count:
      break;
  }
}

template <typename T>
void arg_reduce(ReduceOp op, const Tensor& out, const Tensor& in, int64_t dim) {
  const bool want_max = op == ReduceOp::Max;
  const int64_t n = in.shape()[dim], stride = in.strides()[dim];
  Shape outer_shape = in.shape(), outer_strides = in.strides();
  outer_shape.erase(outer_shape.begin() + dim);
  outer_strides.erase(outer_strides.begin() + dim);
  const Shape contig = contiguous_strides(outer_shape);
  const int64_t K = shape_numel(outer_shape);
  const T* base = ptr<T>(in);
  int64_t* o = ptr<int64_t>(out);
  parallel_for(0, K, grain_for(n), [&](int64_t k) {
    int64_t off = 0, rem = k;
    for (size_t d = 0; d < outer_shape.size(); ++d) {
      off += (rem / contig[d]) * outer_strides[d];
      rem %= contig[d];
    }
    const T* p = base + off;
    int64_t best = 0;
    T bv = p[0];
    for (int64_t i = 1; i < n && bv == bv; ++i) {  // the first NaN wins
      T v = p[i * stride];
      if (v != v || (want_max ? v > bv : v < bv)) {
        bv = v;
        best = i;
      }
    }
    o[k] = best;
  });
}

// Prefix sums along dim, one line per outer index, accumulated like sum (double
// for floating types).
template <typename T>
void cumsum(const Tensor& out, const Tensor& in, int64_t dim, bool reverse) {
  const int64_t n = in.shape()[dim], in_stride = in.strides()[dim];
  const int64_t out_stride = out.strides()[dim];
  Shape outer_shape = in.shape(), in_strides = in.strides(), out_strides = out.strides();
  outer_shape.erase(outer_shape.begin() + dim);
  in_strides.erase(in_strides.begin() + dim);
  out_strides.erase(out_strides.begin() + dim);
  const Shape contig = contiguous_strides(outer_shape);
  const int64_t K = shape_numel(outer_shape);
  const T* base = ptr<T>(in);
  T* o = ptr<T>(out);
  parallel_for(0, K, grain_for(n), [&](int64_t k) {
    int64_t in_off = 0, out_off = 0, rem = k;
    for (size_t d = 0; d < outer_shape.size(); ++d) {
      const int64_t idx = rem / contig[d];
      rem %= contig[d];
      in_off += idx * in_strides[d];
      out_off += idx * out_strides[d];
    }
    Acc<T> acc = 0;
    for (int64_t t = 0; t < n; ++t) {
      const int64_t i = reverse ? n - 1 - t : t;
      acc += Acc<T>(base[in_off + i * in_stride]);
      o[out_off + i * out_stride] = static_cast<T>(acc);
    }
  });
}

}  // namespace

void fill_reduce_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) {
      t.reduce = reduce<T>;
      t.arg_reduce = arg_reduce<T>;
      t.cumsum = cumsum<T>;
    }
  });
}

}  // namespace lg::cpu
