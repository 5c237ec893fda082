// CUDA prefix sums along one dim (cumsum, and its reverse for the backward),
// as backends/cpu/reduce.cpp computes them: one thread per line scans it in
// order, accumulating in double for floating types and in the unsigned type
// for int64 (wrapping around), so every partial sum matches the CPU's bit for
// bit. Lines are independent, so the GPU's parallelism is across lines.
#include <cstdint>
#include <type_traits>

#include "group_reduce.cuh"

namespace lg::cuda {
namespace {

template <typename T>
using ScanAcc = typename std::conditional_t<std::is_floating_point_v<T>, std::type_identity<double>,
                                            std::make_unsigned<T>>::type;

// Line k starts at operand 0's (out's) and operand 1's (in's) offset of k in
// `lines`; its n elements are `out_stride` and `in_stride` apart.
template <typename T>
__global__ void cumsum_kernel(T* out, const T* in, int64_t lines, Geometry<2> outer, int64_t n,
                              int64_t out_stride, int64_t in_stride, bool reverse) {
  const GroupIndex<1> at;
  for (int64_t k = at.first; k < lines; k += at.step) {
    T* o = out + offset_of(outer, k, 0);
    const T* x = in + offset_of(outer, k, 1);
    ScanAcc<T> acc = 0;
    for (int64_t t = 0; t < n; ++t) {
      const int64_t i = reverse ? n - 1 - t : t;
      acc += ScanAcc<T>(x[i * in_stride]);
      o[i * out_stride] = static_cast<T>(acc);
    }
  }
}

template <typename T>
void cumsum(const Tensor& out, const Tensor& in, int64_t dim, bool reverse) {
  DeviceScope scope("cumsum", {&out, &in});
  check_operand("cumsum", in, in.shape(), dtype_of<T>());
  check_operand("cumsum", out, in.shape(), dtype_of<T>());
  LG_CHECK(dim >= 0 && dim < in.dim(), "cumsum: dim ", dim, " out of range for ", in.describe());
  Shape outer_shape = in.shape(), out_strides = out.strides(), in_strides = in.strides();
  outer_shape.erase(outer_shape.begin() + dim);
  out_strides.erase(out_strides.begin() + dim);
  in_strides.erase(in_strides.begin() + dim);
  const int64_t lines = shape_numel(outer_shape), n = in.shape()[dim];
  if (lines == 0 || n == 0) return;
  const Geometry<2> outer = make_geometry<2>("cumsum", outer_shape, {&out_strides, &in_strides});
  launch_kernel(cumsum_kernel<T>, blocks_for_groups<1>(lines), kThreads, 0, ptr<T>(out), ptr<T>(in),
                lines, outer, n, out.strides()[dim], in.strides()[dim], reverse);
}

}  // namespace

void fill_cumsum_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) t.cumsum = cumsum<T>;
  });
}

}  // namespace lg::cuda
