// CUDA reductions: sum, max and min over any set of dims of an input of any
// strides, and argmax/argmin along one dim, with the semantics of
// backends/cpu/reduce.cpp: float sums accumulate in double and integer sums
// wrap around (in the unsigned type); max and min let NaN win; the arg
// reductions return the first NaN if there is one, else the first extremum.
//
// Each output element gets a group of threads (group_reduce.cuh): the group's
// threads combine strided parts of the element's slice, then the group
// combines its partial results. Every combine here is order-independent
// (exactly so for max, min, the arg reductions and integer sums), so the
// result does not depend on the group size.
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "group_reduce.cuh"

namespace lg::cuda {
namespace {

template <typename T>
using SumAcc = SumAccumulator<T>;

template <typename T>
struct SumOp {
  using Acc = SumAcc<T>;
  using Out = T;
  __device__ static Acc init() { return Acc(0); }
  __device__ static Acc load(T v, int64_t) { return Acc(v); }
  __device__ static Acc combine(Acc a, Acc b) { return a + b; }
  __device__ static Out finish(Acc a) { return static_cast<T>(a); }
};

// -inf (or the lowest value) for max, so that a slice of all -inf gives -inf.
template <typename T, bool kMax>
struct ExtremeOp {
  using Acc = T;
  using Out = T;
  // (INFINITY and the INT64 macros: std::numeric_limits is host code for nvcc.)
  __device__ static Acc init() {
    if constexpr (std::is_floating_point_v<T>) {
      return kMax ? -T(INFINITY) : T(INFINITY);
    } else {
      static_assert(std::is_same_v<T, int64_t>);
      return kMax ? INT64_MIN : INT64_MAX;
    }
  }
  __device__ static Acc load(T v, int64_t) { return v; }
  // NaN wins (v != v); a partial result combines like one more element.
  __device__ static Acc combine(Acc acc, Acc v) {
    return (v != v || (kMax ? v > acc : v < acc)) ? v : acc;
  }
  __device__ static Out finish(Acc a) { return a; }
};

// A candidate of an arg reduction: a value and its index along the dim.
template <typename T>
struct Candidate {
  T value;
  int64_t index;
};

template <typename T>
__device__ inline Candidate<T> shuffle_xor(Candidate<T> c, int lane_mask) {
  return {__shfl_xor_sync(0xffffffffu, c.value, lane_mask),
          __shfl_xor_sync(0xffffffffu, c.index, lane_mask)};
}

// The CPU scans left to right and keeps the first NaN or the first strict
// improvement; as a combine over any grouping that is: NaN beats a number,
// a better value beats a worse one, and between equals (or two NaNs) the
// lower index wins. index -1 marks the empty candidate of a thread that saw
// no element.
template <typename T, bool kMax>
struct ArgOp {
  using Acc = Candidate<T>;
  using Out = int64_t;
  __device__ static Acc init() { return {T(0), -1}; }
  __device__ static Acc load(T v, int64_t r) { return {v, r}; }
  __device__ static Acc combine(Acc a, Acc b) {
    if (a.index < 0) return b;
    if (b.index < 0) return a;
    const bool a_nan = a.value != a.value, b_nan = b.value != b.value;
    if (a_nan != b_nan) return a_nan ? a : b;
    if (!a_nan && a.value != b.value) return (kMax ? a.value > b.value : a.value < b.value) ? a : b;
    return a.index < b.index ? a : b;
  }
  __device__ static Out finish(Acc a) { return a.index < 0 ? 0 : a.index; }
};

// out[k] = the reduction over r < R of in[kept offset of k + reduced offset of r].
template <int G, typename T, typename Op>
__global__ void reduce_kernel(typename Op::Out* out, const T* in, int64_t K, int64_t R,
                              Geometry<1> kept, Geometry<1> reduced) {
  const GroupIndex<G> at;
  for (int64_t k = at.first; k < K; k += at.step) {
    const T* slice = in + offset_of(kept, k);
    typename Op::Acc acc = Op::init();
    for (int64_t r = at.lane; r < R; r += G)
      acc = Op::combine(acc, Op::load(slice[offset_of(reduced, r)], r));
    acc = group_all_reduce<G>(acc, [](auto a, auto b) { return Op::combine(a, b); });
    if (at.lane == 0) out[k] = Op::finish(acc);
  }
}

// Splits in's dims into kept and reduced ones and runs Op over them.
template <typename T, typename Op>
void run_reduce(const char* name, typename Op::Out* out, const Tensor& in,
                const std::vector<bool>& reduced_dim) {
  Shape kept_shape, kept_strides, red_shape, red_strides;
  for (int64_t d = 0; d < in.dim(); ++d) {
    (reduced_dim[d] ? red_shape : kept_shape).push_back(in.shape()[d]);
    (reduced_dim[d] ? red_strides : kept_strides).push_back(in.strides()[d]);
  }
  const int64_t K = shape_numel(kept_shape), R = shape_numel(red_shape);
  if (K == 0) return;
  const Geometry<1> kept = make_geometry<1>(name, kept_shape, {&kept_strides});
  const Geometry<1> reduced = make_geometry<1>(name, red_shape, {&red_strides});
  with_group_size(R, K, [&]<int G>() {
    launch_kernel(reduce_kernel<G, T, Op>, blocks_for_groups<G>(K), kThreads, 0, out, ptr<T>(in), K,
                  R, kept, reduced);
  });
}

const char* reduce_name(ReduceOp op) {
  return op == ReduceOp::Sum ? "sum" : op == ReduceOp::Max ? "max" : "min";
}

template <typename T>
void reduce(ReduceOp op, const Tensor& out, const Tensor& in, const std::vector<int64_t>& dims) {
  LG_CHECK(op < ReduceOp::Count, "reduce: unknown op ", static_cast<int>(op));
  const char* name = reduce_name(op);
  DeviceScope scope(name, {&out, &in});
  std::vector<bool> reduced_dim(in.dim(), false);
  Shape kept_shape = in.shape();
  for (int64_t d : dims) {
    LG_CHECK(d >= 0 && d < in.dim(), name, ": dim ", d, " out of range for ", in.describe());
    reduced_dim[d] = true;
    kept_shape[d] = 1;
  }
  check_operand(name, in, in.shape(), dtype_of<T>());
  check_operand(name, out, kept_shape, dtype_of<T>());
  LG_CHECK(out.is_contiguous(), name, ": CUDA kernel expected a contiguous output, got ",
           out.describe());
  T* o = ptr<T>(out);
  if (op == ReduceOp::Sum) return run_reduce<T, SumOp<T>>(name, o, in, reduced_dim);
  if (op == ReduceOp::Max) return run_reduce<T, ExtremeOp<T, true>>(name, o, in, reduced_dim);
  run_reduce<T, ExtremeOp<T, false>>(name, o, in, reduced_dim);
}

template <typename T>
void arg_reduce(ReduceOp op, const Tensor& out, const Tensor& in, int64_t dim) {
  LG_CHECK(op == ReduceOp::Max || op == ReduceOp::Min, "arg_reduce: needs Max or Min, got op ",
           static_cast<int>(op));
  const char* name = op == ReduceOp::Max ? "argmax" : "argmin";
  DeviceScope scope(name, {&out, &in});
  LG_CHECK(dim >= 0 && dim < in.dim() && in.shape()[dim] > 0, name, ": dim ", dim,
           " is not a non-empty dim of ", in.describe());
  Shape out_shape = in.shape();
  out_shape[dim] = 1;
  check_operand(name, in, in.shape(), dtype_of<T>());
  check_operand(name, out, out_shape, kInt64);
  LG_CHECK(out.is_contiguous(), name, ": CUDA kernel expected a contiguous output, got ",
           out.describe());
  std::vector<bool> reduced_dim(in.dim(), false);
  reduced_dim[dim] = true;
  int64_t* o = ptr<int64_t>(out);
  if (op == ReduceOp::Max) return run_reduce<T, ArgOp<T, true>>(name, o, in, reduced_dim);
  run_reduce<T, ArgOp<T, false>>(name, o, in, reduced_dim);
}

}  // namespace

void fill_reduce_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) {
      t.reduce = reduce<T>;
      t.arg_reduce = arg_reduce<T>;
    }
  });
}

}  // namespace lg::cuda
