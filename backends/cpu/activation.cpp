// CPU activation kernels (the activation values of UnaryOp): one pass over
// the data, float math for float, so the contiguous path is a plain loop the
// compiler can vectorise. gelu on contiguous float runs takes the vectorised
// kernels of vector_math.h; the scalar formulas here are their reference (and
// the strided and float64 path). gelu's backward is one fused pass too.
#include <cmath>

#include "cpu_kernels.h"
#include "strided_loop.h"
#include "vector_math.h"

namespace lg::cpu {
namespace {

constexpr double kSqrtHalf = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr double kGeluCubic = 0.044715;

// The scalar gelu and its derivative in T's own precision: the reference
// for the vectorised float kernels, and the strided and float64 path.
template <typename T>
T gelu_reference(T x, bool tanh_form) {
  const T half = T(0.5), one = T(1);
  if (tanh_form)
    return half * x * (one + std::tanh(T(kSqrt2OverPi) * (x + T(kGeluCubic) * x * x * x)));
  return half * x * (one + std::erf(x * T(kSqrtHalf)));
}

template <typename T>
T gelu_grad_reference(T x, bool tanh_form) {
  const T half = T(0.5), one = T(1);
  if (tanh_form) {
    const T t = std::tanh(T(kSqrt2OverPi) * (x + T(kGeluCubic) * x * x * x));
    const T inner = T(kSqrt2OverPi) * (one + T(3 * kGeluCubic) * x * x);
    return half * (one + t) + half * x * (one - t * t) * inner;
  }
  return half * (one + std::erf(x * T(kSqrtHalf))) + x * std::exp(-half * x * x) * T(kInvSqrt2Pi);
}

template <typename T, typename F>
void map(const Tensor& out, const Tensor& in, F f) {
  T* o = ptr<T>(out);
  const T* a = ptr<T>(in);
  for_each_run<2>(out.shape(), {&out.strides(), &in.strides()}, [&](int64_t n, auto off, auto st) {
    T* po = o + off[0];
    const T* pa = a + off[1];
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) po[i * st[0]] = f(pa[i * st[1]]);
    }
  });
}

// gelu's value on contiguous float runs through the vectorised kernel.
template <typename T>
void gelu_map(const Tensor& out, const Tensor& in, bool tanh_form) {
  T* o = ptr<T>(out);
  const T* a = ptr<T>(in);
  for_each_run<2>(out.shape(), {&out.strides(), &in.strides()}, [&](int64_t n, auto off, auto st) {
    T* po = o + off[0];
    const T* pa = a + off[1];
    if (std::is_same_v<T, float> && st[0] == 1 && st[1] == 1) {
      gelu_float(reinterpret_cast<float*>(po), reinterpret_cast<const float*>(pa), n, tanh_form);
    } else {
      for (int64_t i = 0; i < n; ++i) po[i * st[0]] = gelu_reference(pa[i * st[1]], tanh_form);
    }
  });
}

// F is the math type: T itself for float and double, double for int64 (whose
// only activation the ops layer keeps in int64 is relu).
template <typename T, typename F>
void activation_typed(UnaryOp op, const Tensor& out, const Tensor& in) {
  const F one = 1;
  auto cast = [](F v) { return static_cast<T>(v); };
  switch (op) {
    case UnaryOp::Tanh:
      return map<T>(out, in, [&](T x) { return cast(std::tanh(F(x))); });
    case UnaryOp::Sigmoid:  // exp(-x) overflowing to inf gives 0, never NaN
      return map<T>(out, in, [&](T x) { return cast(one / (one + std::exp(-F(x)))); });
    case UnaryOp::Relu:  // x < 0 is false for NaN, so NaN propagates as in PyTorch
      return map<T>(out, in, [](T x) { return x < T(0) ? T(0) : x; });
    case UnaryOp::Gelu:
    case UnaryOp::GeluTanh:
      if constexpr (std::is_floating_point_v<T>)
        return gelu_map<T>(out, in, op == UnaryOp::GeluTanh);
      break;
    case UnaryOp::Silu:
      return map<T>(out, in, [&](T x) { return cast(F(x) / (one + std::exp(-F(x)))); });
    case UnaryOp::Softplus:  // log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|)
      return map<T>(out, in, [&](T x) {
        F v = F(x);
        return cast(std::fmax(v, F(0)) + std::log1p(std::exp(-std::fabs(v))));
      });
    case UnaryOp::Erf:
      return map<T>(out, in, [&](T x) { return cast(std::erf(F(x))); });
    default:
      break;
  }
  LG_CHECK(false, op_name(op), ": not an activation kernel");
}

template <typename T>
void gelu_backward(const Tensor& grad_in, const Tensor& grad_out, const Tensor& x, bool tanh_form) {
  T* o = ptr<T>(grad_in);
  const T* g = ptr<T>(grad_out);
  const T* a = ptr<T>(x);
  for_each_run<3>(
      grad_in.shape(), {&grad_in.strides(), &grad_out.strides(), &x.strides()},
      [&](int64_t n, auto off, auto st) {
        T* po = o + off[0];
        const T* pg = g + off[1];
        const T* pa = a + off[2];
        if (std::is_same_v<T, float> && st[0] == 1 && st[1] == 1 && st[2] == 1) {
          gelu_backward_float(reinterpret_cast<float*>(po), reinterpret_cast<const float*>(pg),
                              reinterpret_cast<const float*>(pa), n, tanh_form);
        } else {
          for (int64_t i = 0; i < n; ++i)
            po[i * st[0]] = pg[i * st[1]] * gelu_grad_reference(pa[i * st[2]], tanh_form);
        }
      });
}

}  // namespace

void unary_activation(UnaryOp op, const Tensor& out, const Tensor& in) {
  switch (out.dtype()) {
    case kFloat32:
      return activation_typed<float, float>(op, out, in);
    case kFloat64:
      return activation_typed<double, double>(op, out, in);
    case kInt64:
      return activation_typed<int64_t, double>(op, out, in);
    case kBool:
      break;
  }
  LG_CHECK(false, op_name(op), ": not defined for ", out.describe());
}

void activation_backward(UnaryOp op, const Tensor& grad_in, const Tensor& grad_out,
                         const Tensor& x) {
  LG_CHECK(op == UnaryOp::Gelu || op == UnaryOp::GeluTanh, op_name(op),
           ": no fused backward kernel");
  const bool tanh_form = op == UnaryOp::GeluTanh;
  switch (grad_in.dtype()) {
    case kFloat32:
      return gelu_backward<float>(grad_in, grad_out, x, tanh_form);
    case kFloat64:
      return gelu_backward<double>(grad_in, grad_out, x, tanh_form);
    default:
      break;
  }
  LG_CHECK(false, op_name(op), ": backward not defined for ", grad_in.describe());
}

}  // namespace lg::cpu
