// CPU activation kernels (the activation values of UnaryOp): one pass over
// the data, float math for float, so the contiguous path is a plain loop the
// compiler can vectorise.
#include <cmath>

#include "cpu_kernels.h"
#include "strided_loop.h"

namespace lg::cpu {
namespace {

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

// F is the math type: T itself for float and double, double for int64 (whose
// only activation the ops layer keeps in int64 is relu).
template <typename T, typename F>
void activation_typed(UnaryOp op, const Tensor& out, const Tensor& in) {
  const F one = 1, half = 0.5;
  const F inv_sqrt2 = static_cast<F>(0.70710678118654752440);
  const F sqrt_2_over_pi = static_cast<F>(0.79788456080286535588);
  const F gelu_cubic = static_cast<F>(0.044715);
  auto cast = [](F v) { return static_cast<T>(v); };
  switch (op) {
    case UnaryOp::Tanh:
      return map<T>(out, in, [&](T x) { return cast(std::tanh(F(x))); });
    case UnaryOp::Sigmoid:  // exp(-x) overflowing to inf gives 0, never NaN
      return map<T>(out, in, [&](T x) { return cast(one / (one + std::exp(-F(x)))); });
    case UnaryOp::Relu:  // x < 0 is false for NaN, so NaN propagates as in PyTorch
      return map<T>(out, in, [](T x) { return x < T(0) ? T(0) : x; });
    case UnaryOp::Gelu:
      return map<T>(out, in,
                    [&](T x) { return cast(half * F(x) * (one + std::erf(F(x) * inv_sqrt2))); });
    case UnaryOp::GeluTanh:
      return map<T>(out, in, [&](T x) {
        F v = F(x);
        return cast(half * v * (one + std::tanh(sqrt_2_over_pi * (v + gelu_cubic * v * v * v))));
      });
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

}  // namespace lg::cpu
