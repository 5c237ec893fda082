#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/reduction.h>

#include "op_support.h"

namespace lg {
using detail::BackwardArgs;
using detail::grad_for;

namespace {

// Forward of a binary kernel on broadcast, promoted operands (no autograd).
Tensor binary_raw(BinaryOp op, const Tensor& a, const Tensor& b, DType compute) {
  const char* name = op_name(op);
  detail::check_defined(a, name);
  detail::check_defined(b, name);
  detail::check_same_device(a, b, name);
  Shape shape = detail::broadcast_shapes(a.shape(), b.shape(), name);
  Tensor ac = detail::broadcast_view(detail::cast_raw(a, compute), shape, name);
  Tensor bc = detail::broadcast_view(detail::cast_raw(b, compute), shape, name);
  Tensor out = Tensor::empty(shape, is_comparison(op) ? kBool : compute, a.device());
  kernel(&KernelTable::binary, a.device(), compute, name)(op, out, ac, bc);
  return out;
}

Tensor binary_raw(BinaryOp op, const Tensor& a, const Tensor& b) {
  detail::check_defined(a, op_name(op));
  detail::check_defined(b, op_name(op));
  return binary_raw(op, a, b, detail::result_type(a, b));
}

Tensor unary_raw(UnaryOp op, const Tensor& a, DType compute) {
  detail::check_defined(a, op_name(op));
  Tensor in = detail::cast_raw(a, compute);
  Tensor out = Tensor::empty(a.shape(), compute, a.device());
  kernel(&KernelTable::unary, a.device(), compute, op_name(op))(op, out, in);
  return out;
}

// Unary float functions promote integer input to float32, as PyTorch does.
DType float_dtype(const Tensor& a) { return is_floating(a.dtype()) ? a.dtype() : kFloat32; }

Tensor scalar_like(const Tensor& a, const Scalar& s) {
  detail::check_defined(a, "scalar op");
  return detail::scalar_tensor(s, detail::result_type(a, s), a.device());
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::Add, a, b);
  return detail::record("add", out, {a, b}, {}, [a_ = detail::meta(a), b_ = detail::meta(b)](const BackwardArgs& c) {
    return std::vector<Tensor>{c.needs(0) ? grad_for(c.grad, a_) : Tensor(),
                               c.needs(1) ? grad_for(c.grad, b_) : Tensor()};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::Sub, a, b);
  return detail::record("sub", out, {a, b}, {}, [a_ = detail::meta(a), b_ = detail::meta(b)](const BackwardArgs& c) {
    return std::vector<Tensor>{c.needs(0) ? grad_for(c.grad, a_) : Tensor(),
                               c.needs(1) ? grad_for(neg(c.grad), b_) : Tensor()};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::Mul, a, b);
  // Keep each operand only if the other's gradient needs it.
  Tensor keep_a = b.requires_grad() ? a : Tensor();
  Tensor keep_b = a.requires_grad() ? b : Tensor();
  return detail::record("mul", out, {a, b}, {{"self", keep_a}, {"other", keep_b}},
                        [a_ = detail::meta(a), b_ = detail::meta(b)](const BackwardArgs& c) {
                          const Tensor& sa = c.saved("self");
                          const Tensor& sb = c.saved("other");
                          return std::vector<Tensor>{
                              c.needs(0) ? grad_for(c.grad * sb, a_) : Tensor(),
                              c.needs(1) ? grad_for(c.grad * sa, b_) : Tensor()};
                        });
}

Tensor div(const Tensor& a, const Tensor& b) {
  detail::check_defined(a, "div");
  detail::check_defined(b, "div");
  DType compute = detail::result_type(a, b);  // true division: integers divide as float32
  Tensor out = binary_raw(BinaryOp::Div, a, b, is_floating(compute) ? compute : kFloat32);
  Tensor keep_a = b.requires_grad() ? a : Tensor();  // only b's gradient needs a
  return detail::record("div", out, {a, b}, {{"self", keep_a}, {"other", b}},
                        [a_ = detail::meta(a), b_ = detail::meta(b)](const BackwardArgs& c) {
                          const Tensor& sa = c.saved("self");
                          const Tensor& sb = c.saved("other");
                          return std::vector<Tensor>{
                              c.needs(0) ? grad_for(c.grad / sb, a_) : Tensor(),
                              c.needs(1) ? grad_for(neg(c.grad) * sa / (sb * sb), b_) : Tensor()};
                        });
}

Tensor pow(const Tensor& base, const Tensor& exponent) {
  Tensor out = binary_raw(BinaryOp::Pow, base, exponent);
  return detail::record(
      "pow", out, {base, exponent}, {{"self", base}, {"exponent", exponent}},
      [a_ = detail::meta(base), b_ = detail::meta(exponent)](const BackwardArgs& c) {
        const Tensor& x = c.saved("self");
        const Tensor& y = c.saved("exponent");
        const Tensor& out = c.saved(detail::kSavedResult);
        Tensor gx, gy;
        if (c.needs(0)) gx = grad_for(c.grad * y * pow(x, y - 1), a_);
        // d/dy x^y = x^y log x; taken as 0 where x == 0 (the limit for y > 0).
        if (c.needs(1)) {
          Tensor safe_log = log(x + eq(x, 0).to(x.dtype()));
          gy = grad_for(c.grad * out * safe_log, b_);
        }
        return std::vector<Tensor>{gx, gy};
      },
      {.save_output = true});
}

Tensor pow(const Tensor& base, const Scalar& exponent) {
  detail::check_defined(base, "pow");
  // PyTorch's rule: the result would be a fraction that an integer tensor cannot hold.
  LG_CHECK(is_floating(base.dtype()) || exponent.is_floating() || exponent.to_int() >= 0,
           "pow: integers to negative integer powers are not allowed (", base.describe(), " ** ",
           exponent.to_int(), ")");
  Tensor e = scalar_like(base, exponent);
  Tensor out = binary_raw(BinaryOp::Pow, base, e);
  return detail::record("pow", out, {base}, {{"self", base}}, [exponent](const BackwardArgs& c) {
    const Tensor& x = c.saved("self");
    if (exponent.to_double() == 0) return std::vector<Tensor>{c.grad * 0};
    double p = exponent.to_double();
    return std::vector<Tensor>{grad_for(c.grad * p * pow(x, p - 1), x)};
  });
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::Maximum, a, b);
  return detail::record(
      "maximum", out, {a, b}, {{"self", a}, {"other", b}}, [](const BackwardArgs& c) {
        const Tensor& x = c.saved("self");
        const Tensor& y = c.saved("other");
        DType t = c.grad.dtype();
        Tensor wx = gt(x, y).to(t) + 0.5 * eq(x, y).to(t);  // ties share the gradient
        return std::vector<Tensor>{c.needs(0) ? grad_for(c.grad * wx, x) : Tensor(),
                                   c.needs(1) ? grad_for(c.grad * (1 - wx), y) : Tensor()};
      });
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::Minimum, a, b);
  return detail::record(
      "minimum", out, {a, b}, {{"self", a}, {"other", b}}, [](const BackwardArgs& c) {
        const Tensor& x = c.saved("self");
        const Tensor& y = c.saved("other");
        DType t = c.grad.dtype();
        Tensor wx = lt(x, y).to(t) + 0.5 * eq(x, y).to(t);
        return std::vector<Tensor>{c.needs(0) ? grad_for(c.grad * wx, x) : Tensor(),
                                   c.needs(1) ? grad_for(c.grad * (1 - wx), y) : Tensor()};
      });
}

Tensor add(const Tensor& a, const Scalar& b) { return add(a, scalar_like(a, b)); }
Tensor sub(const Tensor& a, const Scalar& b) { return sub(a, scalar_like(a, b)); }
Tensor sub(const Scalar& a, const Tensor& b) { return sub(scalar_like(b, a), b); }
Tensor mul(const Tensor& a, const Scalar& b) { return mul(a, scalar_like(a, b)); }
Tensor div(const Tensor& a, const Scalar& b) { return div(a, scalar_like(a, b)); }
Tensor div(const Scalar& a, const Tensor& b) { return div(scalar_like(b, a), b); }

Tensor neg(const Tensor& a) {
  LG_CHECK(a.dtype() != kBool, "neg: not defined for bool tensors; use logical ops");
  Tensor out = unary_raw(UnaryOp::Neg, a, a.dtype());
  return detail::record("neg", out, {a}, {}, [](const BackwardArgs& c) {
    return std::vector<Tensor>{neg(c.grad)};
  });
}

Tensor exp(const Tensor& a) {
  Tensor out = unary_raw(UnaryOp::Exp, a, float_dtype(a));
  return detail::record("exp", out, {a}, {},
                        [](const BackwardArgs& c) {
                          return std::vector<Tensor>{c.grad * c.saved(detail::kSavedResult)};
                        },
                        {.save_output = true});
}

Tensor log(const Tensor& a) {
  Tensor out = unary_raw(UnaryOp::Log, a, float_dtype(a));
  return detail::record("log", out, {a}, {{"self", a}}, [](const BackwardArgs& c) {
    return std::vector<Tensor>{c.grad / c.saved("self")};
  });
}

Tensor sqrt(const Tensor& a) {
  Tensor out = unary_raw(UnaryOp::Sqrt, a, float_dtype(a));
  return detail::record("sqrt", out, {a}, {},
                        [](const BackwardArgs& c) {
                          return std::vector<Tensor>{c.grad / (2 * c.saved(detail::kSavedResult))};
                        },
                        {.save_output = true});
}

Tensor abs(const Tensor& a) {
  Tensor out = unary_raw(UnaryOp::Abs, a, a.dtype());
  return detail::record("abs", out, {a}, {{"self", a}}, [](const BackwardArgs& c) {
    return std::vector<Tensor>{c.grad * sign(c.saved("self"))};
  });
}

Tensor sign(const Tensor& a) {
  Tensor x = a.detach();
  DType t = a.dtype() == kBool ? kInt64 : a.dtype();
  return sub(gt(x, 0).to(t), lt(x, 0).to(t));
}

Tensor eq(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::Eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::Ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::Lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::Le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::Gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_raw(BinaryOp::Ge, a, b); }
Tensor eq(const Tensor& a, const Scalar& b) { return eq(a, scalar_like(a, b)); }
Tensor lt(const Tensor& a, const Scalar& b) { return lt(a, scalar_like(a, b)); }
Tensor gt(const Tensor& a, const Scalar& b) { return gt(a, scalar_like(a, b)); }
Tensor ne(const Tensor& a, const Scalar& b) { return ne(a, scalar_like(a, b)); }
Tensor le(const Tensor& a, const Scalar& b) { return le(a, scalar_like(a, b)); }
Tensor ge(const Tensor& a, const Scalar& b) { return ge(a, scalar_like(a, b)); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator+(const Tensor& a, const Scalar& b) { return add(a, b); }
Tensor operator+(const Scalar& a, const Tensor& b) { return add(b, a); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator-(const Tensor& a, const Scalar& b) { return sub(a, b); }
Tensor operator-(const Scalar& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator*(const Tensor& a, const Scalar& b) { return mul(a, b); }
Tensor operator*(const Scalar& a, const Tensor& b) { return mul(b, a); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator/(const Tensor& a, const Scalar& b) { return div(a, b); }
Tensor operator/(const Scalar& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }

}  // namespace lg
