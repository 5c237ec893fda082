// CPU activation kernels (the activation values of UnaryOp): one pass over
// the data, float math for float, so the contiguous path is a plain loop the
// compiler can vectorise. gelu, sigmoid and silu on contiguous float runs
// take the vectorised kernels of vector_math.h; the scalar formulas here are
// their reference (and the strided and float64 path). gelu's, silu's and
// relu's backwards are one fused pass too.
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

// The scalar sigmoid, silu and silu's derivative in F's precision: the
// reference for the vectorised float kernels, and the strided and float64 path.
template <typename F>
F sigmoid_reference(F x) {  // exp(-x) overflowing to inf gives 0, never NaN
  return F(1) / (F(1) + std::exp(-x));
}

template <typename F>
F silu_reference(F x) {
  return x / (F(1) + std::exp(-x));
}

template <typename F>
F silu_grad_reference(F x) {
  const F s = sigmoid_reference(x);
  return s * (F(1) + x * (F(1) - s));
}

// out = f(in): contiguous float runs through the vectorised kernel
// vec(out, in, n), everything else through the scalar f.
template <typename T, typename Scalar, typename Vector>
void vector_map(const Tensor& out, const Tensor& in, Scalar f, Vector vec) {
  T* o = ptr<T>(out);
  const T* a = ptr<T>(in);
  for_each_run<2>(out.shape(), {&out.strides(), &in.strides()}, [&](int64_t n, auto off, auto st) {
    T* po = o + off[0];
    const T* pa = a + off[1];
    if constexpr (std::is_same_v<T, float>) {
      if (st[0] == 1 && st[1] == 1) return vec(po, pa, n);
    }
    for (int64_t i = 0; i < n; ++i) po[i * st[0]] = f(pa[i * st[1]]);
  });
}

// F is the math type: T itself for float and double, double for int64 (whose
// only activation the ops layer keeps in int64 is relu).
template <typename T, typename F>
void activation_typed(UnaryOp op, const Tensor& out, const Tensor& in) {
  auto cast = [](F v) { return static_cast<T>(v); };
  switch (op) {
    case UnaryOp::Tanh:
      return map<T>(out, in, [&](T x) { return cast(std::tanh(F(x))); });
    case UnaryOp::Sigmoid:
      return vector_map<T>(out, in, [&](T x) { return cast(sigmoid_reference(F(x))); },
                           sigmoid_float);
    case UnaryOp::Relu:  // x < 0 is false for NaN, so NaN propagates as in PyTorch
      return map<T>(out, in, [](T x) { return x < T(0) ? T(0) : x; });
    case UnaryOp::Gelu:
    case UnaryOp::GeluTanh:
      if constexpr (std::is_floating_point_v<T>) {
        const bool tanh_form = op == UnaryOp::GeluTanh;
        return vector_map<T>(
            out, in, [&](T x) { return gelu_reference(x, tanh_form); },
            [&](float* o, const float* x, int64_t n) { gelu_float(o, x, n, tanh_form); });
      }
      break;
    case UnaryOp::Silu:
      return vector_map<T>(out, in, [&](T x) { return cast(silu_reference(F(x))); }, silu_float);
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

// relu's backward on contiguous floats, a loop the compiler vectorises
// (restrict: the ops layer allocates grad_in).
void relu_backward_float(float* __restrict grad_in, const float* __restrict grad_out,
                         const float* __restrict x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad_out[i];  // loaded unconditionally, so the select if-converts
    grad_in[i] = x[i] > 0.0f ? g : 0.0f;
  }
}

// grad_in = element(grad_out, x) (grad_out * f'(x)): contiguous float runs
// through the vectorised kernel vec(grad_in, grad_out, x, n), everything else
// through the scalar element.
template <typename T, typename Element, typename Vector>
void fused_backward(const Tensor& grad_in, const Tensor& grad_out, const Tensor& x,
                    Element element, Vector vec) {
  T* o = ptr<T>(grad_in);
  const T* g = ptr<T>(grad_out);
  const T* a = ptr<T>(x);
  for_each_run<3>(
      grad_in.shape(), {&grad_in.strides(), &grad_out.strides(), &x.strides()},
      [&](int64_t n, auto off, auto st) {
        T* po = o + off[0];
        const T* pg = g + off[1];
        const T* pa = a + off[2];
        if constexpr (std::is_same_v<T, float>) {
          if (st[0] == 1 && st[1] == 1 && st[2] == 1) return vec(po, pg, pa, n);
        }
        for (int64_t i = 0; i < n; ++i) po[i * st[0]] = element(pg[i * st[1]], pa[i * st[2]]);
      });
}

template <typename T>
void activation_backward_typed(UnaryOp op, const Tensor& grad_in, const Tensor& grad_out,
                               const Tensor& x) {
  if (op == UnaryOp::Silu)
    return fused_backward<T>(
        grad_in, grad_out, x, [](T g, T v) { return g * silu_grad_reference(v); },
        silu_backward_float);
  if (op == UnaryOp::Relu)  // a select: a NaN gradient where x <= 0 gives 0
    return fused_backward<T>(
        grad_in, grad_out, x, [](T g, T v) { return v > T(0) ? g : T(0); },
        relu_backward_float);
  const bool tanh_form = op == UnaryOp::GeluTanh;
  fused_backward<T>(
      grad_in, grad_out, x, [&](T g, T v) { return g * gelu_grad_reference(v, tanh_form); },
      [&](float* gi, const float* go, const float* v, int64_t n) {
        gelu_backward_float(gi, go, v, n, tanh_form);
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
  LG_CHECK(op == UnaryOp::Gelu || op == UnaryOp::GeluTanh || op == UnaryOp::Silu ||
               op == UnaryOp::Relu,
           op_name(op), ": no fused backward kernel");
  switch (grad_in.dtype()) {
    case kFloat32:
      return activation_backward_typed<float>(op, grad_in, grad_out, x);
    case kFloat64:
      return activation_backward_typed<double>(op, grad_in, grad_out, x);
    default:
      break;
  }
  LG_CHECK(false, op_name(op), ": backward not defined for ", grad_in.describe());
}

}  // namespace lg::cpu
