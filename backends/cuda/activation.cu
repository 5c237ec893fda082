// CUDA fused activation backward: grad_in = grad_out * f'(x) for gelu, its
// tanh approximation, silu and relu (the activations whose backward the CPU fuses too), with
// the derivative formulas of backends/cpu/activation.cpp in T's precision.
#include <cstdint>
#include <type_traits>

#include "device_math.cuh"
#include "launch.cuh"

namespace lg::cuda {
namespace {

constexpr double kSqrtHalf = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr double kGeluCubic = 0.044715;

template <typename T, bool kTanhForm>
__device__ T gelu_grad(T x) {
  const T half = T(0.5), one = T(1);
  if constexpr (kTanhForm) {
    const T t = tanh_of(T(kSqrt2OverPi) * (x + T(kGeluCubic) * x * x * x));
    const T inner = T(kSqrt2OverPi) * (one + T(3 * kGeluCubic) * x * x);
    return half * (one + t) + half * x * (one - t * t) * inner;
  } else {
    return half * (one + erf_of(x * T(kSqrtHalf))) + x * exp_of(-half * x * x) * T(kInvSqrt2Pi);
  }
}

template <typename T>
__device__ T silu_grad(T x) {
  const T one = T(1), s = one / (one + exp_of(-x));
  return s * (one + x * (one - s));
}

// grad_out * f'(x); relu's is a select (a NaN gradient where x <= 0 gives 0), as on the CPU.
template <typename T, UnaryOp Op>
__device__ T activation_grad(T g, T x) {
  if constexpr (Op == UnaryOp::Relu) {
    return x > T(0) ? g : T(0);
  } else if constexpr (Op == UnaryOp::Silu) {
    return g * silu_grad(x);
  } else {
    return g * gelu_grad<T, Op == UnaryOp::GeluTanh>(x);
  }
}

template <typename T, UnaryOp Op>
struct ActivationBackwardFn {
  T* grad_in;
  const T* grad_out;
  const T* x;
  __device__ void operator()(int64_t, const int64_t* off) const {
    grad_in[off[0]] = activation_grad<T, Op>(grad_out[off[1]], x[off[2]]);
  }
};

template <typename T, UnaryOp Op>
void run_backward(const char* name, const Tensor& grad_in, const Tensor& grad_out,
                  const Tensor& x) {
  launch<3>(name, grad_in.shape(), {&grad_in.strides(), &grad_out.strides(), &x.strides()},
            ActivationBackwardFn<T, Op>{ptr<T>(grad_in), ptr<T>(grad_out), ptr<T>(x)});
}

template <typename T>
void activation_backward(UnaryOp op, const Tensor& grad_in, const Tensor& grad_out,
                         const Tensor& x) {
  LG_CHECK(op == UnaryOp::Gelu || op == UnaryOp::GeluTanh || op == UnaryOp::Silu ||
               op == UnaryOp::Relu,
           op < UnaryOp::Count ? op_name(op) : "activation_backward", ": no fused backward kernel");
  const char* name = op_name(op);
  DeviceScope scope(name, {&grad_in, &grad_out, &x});
  check_operand(name, grad_in, grad_in.shape(), dtype_of<T>());
  check_operand(name, grad_out, grad_in.shape(), dtype_of<T>());
  check_operand(name, x, grad_in.shape(), dtype_of<T>());
  switch (op) {
    case UnaryOp::GeluTanh:
      return run_backward<T, UnaryOp::GeluTanh>(name, grad_in, grad_out, x);
    case UnaryOp::Silu:
      return run_backward<T, UnaryOp::Silu>(name, grad_in, grad_out, x);
    case UnaryOp::Relu:
      return run_backward<T, UnaryOp::Relu>(name, grad_in, grad_out, x);
    default:
      return run_backward<T, UnaryOp::Gelu>(name, grad_in, grad_out, x);
  }
}

}  // namespace

void fill_activation_kernels(KernelTable& t, DType dtype) {
  if (dtype == kFloat32) t.activation_backward = activation_backward<float>;
  if (dtype == kFloat64) t.activation_backward = activation_backward<double>;
}

}  // namespace lg::cuda
