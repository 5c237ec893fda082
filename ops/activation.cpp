#include <lasergrad/ops/activation.h>
#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/elementwise_select.h>

#include <cmath>
#include <string>

#include "op_support.h"

namespace lg {
using detail::BackwardArgs;

namespace {

constexpr double kSqrtHalf = 0.70710678118654752440;    // 1 / sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1 / sqrt(2 pi)
constexpr double kTwoOverSqrtPi = 1.12837916709551257390;
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // gelu's tanh approximation
constexpr double kGeluCubic = 0.044715;

// One kernel pass of an activation value of UnaryOp, no autograd.
Tensor activation_raw(UnaryOp op, const Tensor& x, DType dtype) {
  Tensor in = detail::cast_raw(x, dtype);
  Tensor out = Tensor::empty(x.shape(), dtype, x.device());
  kernel(&KernelTable::unary, x.device(), dtype, op_name(op))(op, out, in);
  return out;
}

// Checks x and returns the dtype the op computes in: float dtypes stay,
// integers and bool become float32 (as PyTorch's float functions).
DType float_dtype(const Tensor& x, const char* name) {
  detail::check_defined(x, name);
  return is_floating(x.dtype()) ? x.dtype() : kFloat32;
}

// gelu's derivative written in differentiable ops (double backward, and
// backends without the fused kernel).
std::vector<Tensor> gelu_composite_backward(const BackwardArgs& c, bool tanh_form) {
  const Tensor& v = c.saved("self");
  if (tanh_form) {
    Tensor t = tanh(kSqrt2OverPi * (v + kGeluCubic * v * v * v));
    Tensor inner_grad = kSqrt2OverPi * (1 + 3 * kGeluCubic * v * v);
    return {c.grad * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * inner_grad)};
  }
  Tensor cdf = 0.5 * (1 + erf(v * kSqrtHalf));
  Tensor pdf = exp(-0.5 * v * v) * kInvSqrt2Pi;
  return {c.grad * (cdf + v * pdf)};
}

// An activation's backward in one kernel pass where the backend has it (the
// composite runs under create_graph, and where the kernel is missing).
// The kernel reads the saved tensor `slot` as its x.
detail::BackwardFn fused_activation_backward(UnaryOp op, detail::BackwardFn composite,
                                             const char* slot = "self") {
  return [op, composite, slot](const BackwardArgs& c) {
    const Tensor& v = c.saved(slot);
    auto fn = kernel_table(v.device(), c.grad.dtype()).activation_backward;
    if (!fn || c.grad.dtype() != v.dtype()) return composite(c);
    Tensor grad_in = Tensor::empty(v.shape(), v.dtype(), v.device());
    fn(op, grad_in, c.grad.detach(), v.detach());
    return std::vector<Tensor>{grad_in};
  };
}

Tensor gelu_impl(const Tensor& x, bool tanh_form) {
  const UnaryOp op = tanh_form ? UnaryOp::GeluTanh : UnaryOp::Gelu;
  const DType dtype = float_dtype(x, "gelu");
  Tensor out = activation_raw(op, x, dtype);
  auto composite = [tanh_form](const BackwardArgs& c) {
    return gelu_composite_backward(c, tanh_form);
  };
  return detail::record("gelu", out, {x}, {{"self", detail::cast_raw(x, dtype)}},
                        fused_activation_backward(op, composite),
                        {.fused_backward = true, .composite = composite});
}

}  // namespace

Tensor tanh(const Tensor& x) {
  Tensor out = activation_raw(UnaryOp::Tanh, x, float_dtype(x, "tanh"));
  return detail::record("tanh", out, {x}, {},
                        [](const BackwardArgs& c) {
                          const Tensor& y = c.saved(detail::kSavedResult);
                          return std::vector<Tensor>{c.grad * (1 - y * y)};
                        },
                        {.save_output = true});
}

Tensor sigmoid(const Tensor& x) {
  Tensor out = activation_raw(UnaryOp::Sigmoid, x, float_dtype(x, "sigmoid"));
  return detail::record("sigmoid", out, {x}, {},
                        [](const BackwardArgs& c) {
                          const Tensor& y = c.saved(detail::kSavedResult);
                          return std::vector<Tensor>{c.grad * y * (1 - y)};
                        },
                        {.save_output = true});
}

Tensor relu(const Tensor& x) {
  detail::check_defined(x, "relu");
  LG_CHECK(x.dtype() != kBool, "relu: not defined for bool tensors, got ", x.describe());
  Tensor out = activation_raw(UnaryOp::Relu, x, x.dtype());
  // The output is positive exactly where the input is, so it serves as the
  // mask, and as the fused kernel's x. The gradient is selected, not
  // multiplied, so a NaN gradient at a non-positive input gives 0.
  detail::BackwardFn composite = [](const BackwardArgs& c) {
    return std::vector<Tensor>{where(gt(c.saved(detail::kSavedResult), 0), c.grad, 0.0)};
  };
  return detail::record("relu", out, {x}, {},
                        fused_activation_backward(UnaryOp::Relu, composite, detail::kSavedResult),
                        {.save_output = true, .fused_backward = true, .composite = composite});
}

Tensor gelu(const Tensor& x, GeluApproximate approximate) {
  return gelu_impl(x, approximate == GeluApproximate::Tanh);
}

Tensor gelu(const Tensor& x, std::string_view approximate) {
  LG_CHECK(approximate == "none" || approximate == "tanh",
           "gelu: approximate must be 'none' or 'tanh', got '", std::string(approximate), "'");
  return gelu(x, approximate == "tanh" ? GeluApproximate::Tanh : GeluApproximate::None);
}

Tensor silu(const Tensor& x) {
  const DType dtype = float_dtype(x, "silu");
  Tensor out = activation_raw(UnaryOp::Silu, x, dtype);
  detail::BackwardFn composite = [](const BackwardArgs& c) {
    const Tensor& v = c.saved("self");
    Tensor s = sigmoid(v);
    return std::vector<Tensor>{c.grad * s * (1 + v * (1 - s))};
  };
  return detail::record("silu", out, {x}, {{"self", detail::cast_raw(x, dtype)}},
                        fused_activation_backward(UnaryOp::Silu, composite),
                        {.fused_backward = true, .composite = composite});
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  DType dtype = float_dtype(x, "softplus");
  LG_CHECK(beta != 0 && std::isfinite(beta), "softplus: beta must be finite and non-zero, got ",
           beta, " for ", x.describe());
  Tensor out;
  {
    NoGradGuard no_grad;
    Tensor v = detail::cast_raw(x.detach(), dtype);
    Tensor scaled = beta == 1 ? v : v * beta;
    Tensor soft = activation_raw(UnaryOp::Softplus, scaled, dtype);
    out = where(gt(scaled, threshold), v, beta == 1 ? soft : soft / beta);
  }
  return detail::record(
      "softplus", out, {x}, {{"self", x}}, [beta, threshold](const BackwardArgs& c) {
        const Tensor& v = c.saved("self");
        Tensor scaled = v * beta;
        Tensor slope = where(gt(scaled.detach(), threshold), 1.0, sigmoid(scaled));
        return std::vector<Tensor>{detail::grad_for(c.grad * slope, v)};
      });
}

Tensor erf(const Tensor& x) {
  Tensor out = activation_raw(UnaryOp::Erf, x, float_dtype(x, "erf"));
  return detail::record("erf", out, {x}, {{"self", x}}, [](const BackwardArgs& c) {
    const Tensor& v = c.saved("self");
    return std::vector<Tensor>{c.grad * kTwoOverSqrtPi * exp(-(v * v))};
  });
}

}  // namespace lg
