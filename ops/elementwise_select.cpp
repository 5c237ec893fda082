#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/elementwise_select.h>

#include "op_support.h"

namespace lg {
using detail::BackwardArgs;

namespace {

void check_mask(const Tensor& mask, const char* op, const char* what) {
  detail::check_defined(mask, op, what);
  LG_CHECK(mask.dtype() == kBool, op, ": ", what, " must be a bool tensor, got ", mask.describe());
}

// The where kernel on operands broadcast to `shape` and converted to dtype.
Tensor where_raw(const Tensor& cond, const Tensor& a, const Tensor& b, const Shape& shape,
                 DType dtype, const char* op) {
  Tensor out = Tensor::empty(shape, dtype, a.device());
  kernel(&KernelTable::where, a.device(), dtype, op)(
      out, detail::broadcast_view(cond, shape, op),
      detail::broadcast_view(detail::cast_raw(a, dtype), shape, op),
      detail::broadcast_view(detail::cast_raw(b, dtype), shape, op));
  return out;
}

}  // namespace

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_mask(cond, "where", "condition");
  detail::check_defined(a, "where");
  detail::check_defined(b, "where");
  detail::check_same_device(cond, a, "where");
  detail::check_same_device(a, b, "where");
  Shape shape = detail::broadcast_shapes(detail::broadcast_shapes(cond.shape(), a.shape(), "where"),
                                         b.shape(), "where");
  Tensor out = where_raw(cond, a, b, shape, detail::result_type(a, b), "where");
  return detail::record("where", out, {a, b}, {{"condition", cond}},
                        [a_ = detail::meta(a), b_ = detail::meta(b)](const BackwardArgs& c) {
                          const Tensor& mask = c.saved("condition");
                          Tensor ga, gb;
                          if (c.needs(0)) ga = detail::grad_for(where(mask, c.grad, 0), a_);
                          if (c.needs(1)) gb = detail::grad_for(where(mask, 0, c.grad), b_);
                          return std::vector<Tensor>{ga, gb};
                        });
}

Tensor where(const Tensor& cond, const Tensor& a, const Scalar& b) {
  detail::check_defined(a, "where");
  return where(cond, a, detail::scalar_tensor(b, detail::result_type(a, b), a.device()));
}

Tensor where(const Tensor& cond, const Scalar& a, const Tensor& b) {
  detail::check_defined(b, "where");
  return where(cond, detail::scalar_tensor(a, detail::result_type(b, a), b.device()), b);
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, const Scalar& value) {
  detail::check_defined(x, "masked_fill");
  check_mask(mask, "masked_fill", "mask");
  detail::check_same_device(x, mask, "masked_fill");
  LG_CHECK(detail::broadcast_shapes(mask.shape(), x.shape(), "masked_fill") == x.shape(),
           "masked_fill: mask ", mask.describe(), " does not broadcast to the input's shape ",
           x.describe());
  Tensor fill = detail::scalar_tensor(value, x.dtype(), x.device());
  Tensor out = where_raw(mask, fill, x, x.shape(), x.dtype(), "masked_fill");
  return detail::record("masked_fill", out, {x}, {{"mask", mask}}, [](const BackwardArgs& c) {
    return std::vector<Tensor>{where(c.saved("mask"), 0, c.grad)};
  });
}

Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max) {
  detail::check_defined(x, "clamp");
  LG_CHECK(min || max, "clamp: at least one of min and max must be given, for ", x.describe());
  LG_CHECK(x.dtype() != kBool, "clamp: not defined for bool tensors, got ", x.describe());
  DType dtype = x.dtype();
  if (min) dtype = promote_types(dtype, detail::result_type(x, *min));
  if (max) dtype = promote_types(dtype, detail::result_type(x, *max));
  Tensor out;
  {
    NoGradGuard no_grad;
    out = detail::cast_raw(x.detach(), dtype);
    // maximum/minimum propagate NaN; min > max gives max everywhere, as PyTorch.
    if (min) out = maximum(out, detail::scalar_tensor(*min, dtype, x.device()));
    if (max) out = minimum(out, detail::scalar_tensor(*max, dtype, x.device()));
  }
  return detail::record("clamp", out, {x}, {{"self", x}}, [min, max](const BackwardArgs& c) {
    const Tensor& v = c.saved("self");
    Tensor inside;
    if (min) inside = ge(v, *min);
    if (max) inside = inside.defined() ? logical_and(inside, le(v, *max)) : le(v, *max);
    return std::vector<Tensor>{detail::grad_for(where(inside, c.grad, 0), v)};
  });
}

Tensor logical_not(const Tensor& a) {
  detail::check_defined(a, "logical_not");
  return eq(a, 0);
}

Tensor logical_and(const Tensor& a, const Tensor& b) {
  detail::check_defined(a, "logical_and");
  detail::check_defined(b, "logical_and");
  detail::broadcast_shapes(a.shape(), b.shape(), "logical_and");
  return mul(ne(a, 0), ne(b, 0));  // bool * bool stays bool
}

Tensor logical_or(const Tensor& a, const Tensor& b) {
  detail::check_defined(a, "logical_or");
  detail::check_defined(b, "logical_or");
  detail::broadcast_shapes(a.shape(), b.shape(), "logical_or");
  return maximum(ne(a, 0), ne(b, 0));
}

}  // namespace lg
