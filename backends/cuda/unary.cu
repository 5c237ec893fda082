// CUDA unary kernels: neg, exp, log, sqrt, abs and the activations, with the
// formulas of backends/cpu/elementwise.cpp and activation.cpp (float math for
// float32, double for float64 and int64).
#include <cstdint>
#include <type_traits>

#include "../integer_math.h"
#include "device_math.cuh"
#include "launch.cuh"

namespace lg::cuda {
namespace {

template <UnaryOp Op, typename T>
__device__ T unary_apply(T a) {
  using F = std::conditional_t<std::is_floating_point_v<T>, T, double>;  // int64 math in double
  if constexpr (Op == UnaryOp::Neg) {  // integers wrap: -INT64_MIN is INT64_MIN
    return integer_math::neg<T>(a);
  } else if constexpr (Op == UnaryOp::Exp) {
    return static_cast<T>(exp_of(F(a)));
  } else if constexpr (Op == UnaryOp::Log) {
    return static_cast<T>(log_of(F(a)));
  } else if constexpr (Op == UnaryOp::Sqrt) {
    return static_cast<T>(sqrt_of(F(a)));
  } else if constexpr (Op == UnaryOp::Abs) {
    return integer_math::abs<T>(a);
  } else if constexpr (Op == UnaryOp::Tanh) {
    return static_cast<T>(tanh_of(F(a)));
  } else if constexpr (Op == UnaryOp::Sigmoid) {  // exp(-x) overflowing to inf gives 0
    return static_cast<T>(F(1) / (F(1) + exp_of(-F(a))));
  } else if constexpr (Op == UnaryOp::Relu) {  // NaN < 0 is false: NaN propagates
    return a < T(0) ? T(0) : a;
  } else if constexpr (Op == UnaryOp::Gelu) {
    return static_cast<T>(F(0.5) * F(a) * (F(1) + erf_of(F(a) * F(0.70710678118654752440))));
  } else if constexpr (Op == UnaryOp::GeluTanh) {
    const F v = F(a);
    return static_cast<T>(
        F(0.5) * v * (F(1) + tanh_of(F(0.79788456080286535588) * (v + F(0.044715) * v * v * v))));
  } else if constexpr (Op == UnaryOp::Silu) {
    return static_cast<T>(F(a) / (F(1) + exp_of(-F(a))));
  } else if constexpr (Op == UnaryOp::Softplus) {  // max(x, 0) + log1p(e^-|x|): no overflow
    return static_cast<T>(fmax_of(F(a), F(0)) + log1p_of(exp_of(-fabs_of(F(a)))));
  } else {
    static_assert(Op == UnaryOp::Erf);
    return static_cast<T>(erf_of(F(a)));
  }
}

template <UnaryOp Op, typename T>
struct UnaryFn {
  T* out;
  const T* in;
  __device__ void operator()(int64_t, const int64_t* off) const {
    out[off[0]] = unary_apply<Op>(in[off[1]]);
  }
};

template <UnaryOp Op, typename T>
void run(const Tensor& out, const Tensor& in) {
  launch<2>(op_name(Op), out.shape(), {&out.strides(), &in.strides()},
            UnaryFn<Op, T>{ptr<T>(out), ptr<T>(in)});
}

template <typename T>
void unary(UnaryOp op, const Tensor& out, const Tensor& in) {
  LG_CHECK(op < UnaryOp::Count, "unary: unknown op ", static_cast<int>(op));
  const char* name = op_name(op);
  DeviceScope scope(name, {&out, &in});
  check_operand(name, out, out.shape(), dtype_of<T>());
  check_operand(name, in, out.shape(), dtype_of<T>());
  switch (op) {
    case UnaryOp::Neg:
      return run<UnaryOp::Neg, T>(out, in);
    case UnaryOp::Exp:
      return run<UnaryOp::Exp, T>(out, in);
    case UnaryOp::Log:
      return run<UnaryOp::Log, T>(out, in);
    case UnaryOp::Sqrt:
      return run<UnaryOp::Sqrt, T>(out, in);
    case UnaryOp::Abs:
      return run<UnaryOp::Abs, T>(out, in);
    case UnaryOp::Tanh:
      return run<UnaryOp::Tanh, T>(out, in);
    case UnaryOp::Sigmoid:
      return run<UnaryOp::Sigmoid, T>(out, in);
    case UnaryOp::Relu:
      return run<UnaryOp::Relu, T>(out, in);
    case UnaryOp::Gelu:
      return run<UnaryOp::Gelu, T>(out, in);
    case UnaryOp::GeluTanh:
      return run<UnaryOp::GeluTanh, T>(out, in);
    case UnaryOp::Silu:
      return run<UnaryOp::Silu, T>(out, in);
    case UnaryOp::Softplus:
      return run<UnaryOp::Softplus, T>(out, in);
    case UnaryOp::Erf:
      return run<UnaryOp::Erf, T>(out, in);
    default:  // an op core/kernels.h has gained that this backend does not have yet
      detail::fail(name, ": not implemented for ", dtype_name(dtype_of<T>()), " on cuda:0");
  }
}

}  // namespace

void fill_unary_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) t.unary = unary<T>;
  });
}

}  // namespace lg::cuda
