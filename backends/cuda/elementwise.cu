// CUDA elementwise kernels: fill, copy/cast, the finiteness check and
// counter-based random fills, with the formulas of backends/cpu/elementwise.cpp
// so that both devices compute the same values.
#include <cstdint>
#include <type_traits>

#include "../../core/philox.h"
#include "../integer_math.h"
#include "launch.cuh"

namespace lg::cuda {
namespace {

template <typename T>
struct FillFn {
  T* out;
  T value;
  __device__ void operator()(int64_t, const int64_t* off) const { out[off[0]] = value; }
};

template <typename To, typename From>
struct CastFn {
  To* dst;
  const From* src;
  __device__ void operator()(int64_t, const int64_t* off) const {
    dst[off[0]] = integer_math::convert<To>(src[off[1]]);
  }
};

// Any value that is not finite sets the flag; all writers store the same value.
template <typename T>
struct NonFiniteFn {
  const T* in;
  int64_t* flag;
  __device__ void operator()(int64_t, const int64_t* off) const {
    if (!isfinite(in[off[0]])) *flag = 1;
  }
};

// Element i draws from counter offset + i, wherever its strides place it. The
// multiply and the add are rounded separately because the CPU build does not
// fuse them and a fused multiply-add would round differently.
template <typename T>
struct UniformFn {
  T* out;
  double low, span;
  uint64_t seed, offset;
  __device__ void operator()(int64_t i, const int64_t* off) const {
    const uint32_t w = philox::word(seed, offset, static_cast<uint64_t>(i));
    out[off[0]] = static_cast<T>(__dadd_rn(low, __dmul_rn(span, philox::unit_value<T>(w))));
  }
};

template <typename T>
struct NormalFn {
  T* out;
  double mean, std;
  uint64_t seed, offset;
  __device__ void operator()(int64_t i, const int64_t* off) const {
    const double z = philox::normal(seed, offset, static_cast<uint64_t>(i));
    out[off[0]] = static_cast<T>(__dadd_rn(mean, __dmul_rn(std, z)));
  }
};

template <typename T>
void fill(const Tensor& out, const Scalar& value) {
  DeviceScope scope("fill", {&out});
  check_operand("fill", out, out.shape(), dtype_of<T>());
  launch<1>("fill", out.shape(), {&out.strides()}, FillFn<T>{ptr<T>(out), value.to<T>()});
}

template <typename T>
void copy(const Tensor& dst, const Tensor& src) {
  DeviceScope scope("copy", {&dst, &src});
  check_operand("copy", dst, dst.shape(), dtype_of<T>());
  check_operand("copy", src, dst.shape(), src.dtype());
  if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous()) {
    const size_t nbytes = static_cast<size_t>(dst.numel()) * sizeof(T);
    if (nbytes > 0 && dst.raw_data() != src.raw_data())
      check(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), nbytes, cudaMemcpyDeviceToDevice,
                            scope.stream()),
            "copy", "cudaMemcpyAsync");
    return;
  }
  visit_dtype(src.dtype(), [&](auto tag) {
    using From = decltype(tag);
    launch<2>("copy", dst.shape(), {&dst.strides(), &src.strides()},
              CastFn<T, From>{ptr<T>(dst), ptr<From>(src)});
  });
}

template <typename T>
bool all_finite(const Tensor& in) {
  DeviceScope scope("all_finite", {&in});
  check_operand("all_finite", in, in.shape(), dtype_of<T>());
  Tensor flag = Tensor::empty({}, kInt64, in.device());
  check(cudaMemsetAsync(flag.raw_data(), 0, sizeof(int64_t), scope.stream()), "all_finite",
        "cudaMemsetAsync");
  launch<1>("all_finite", in.shape(), {&in.strides()},
            NonFiniteFn<T>{ptr<T>(in), ptr<int64_t>(flag)});
  // The answer is for the host (anomaly mode, optimizer state checks), so
  // this op synchronises: it is no hot-path op.
  int64_t found = 0;
  check(cudaMemcpyAsync(&found, flag.raw_data(), sizeof(found), cudaMemcpyDeviceToHost,
                        scope.stream()),
        "all_finite", "cudaMemcpyAsync");
  synchronize_and_check(scope.device(), "all_finite");
  return found == 0;
}

template <typename T>
void uniform(const Tensor& out, double low, double high, uint64_t seed, uint64_t offset) {
  DeviceScope scope("uniform_", {&out});
  check_operand("uniform_", out, out.shape(), dtype_of<T>());
  launch<1>("uniform_", out.shape(), {&out.strides()},
            UniformFn<T>{ptr<T>(out), low, high - low, seed, offset});
}

template <typename T>
void normal(const Tensor& out, double mean, double std, uint64_t seed, uint64_t offset) {
  DeviceScope scope("normal_", {&out});
  check_operand("normal_", out, out.shape(), dtype_of<T>());
  launch<1>("normal_", out.shape(), {&out.strides()},
            NormalFn<T>{ptr<T>(out), mean, std, seed, offset});
}

}  // namespace

void fill_elementwise_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    t.fill = fill<T>;
    t.copy = copy<T>;
    if constexpr (std::is_floating_point_v<T>) {
      t.all_finite = all_finite<T>;
      t.uniform = uniform<T>;
      t.normal = normal<T>;
    }
  });
}

}  // namespace lg::cuda
