// In-place Tensor methods (add_, mul_, zero_, fill_, copy_, ...). They bump
// the storage's version counter, which autograd checks, and are not recorded:
// they are for optimizer updates and buffers under NoGradGuard.
#include <lasergrad/ops/arithmetic.h>

#include "op_support.h"

namespace lg {
namespace {

void check_inplace(const Tensor& self, const char* op) {
  detail::check_defined(self, op);
  LG_CHECK(!(GradMode::is_enabled() && self.requires_grad()), op,
           ": in-place operation on ", self.describe(),
           " which requires grad; wrap it in NoGradGuard (as optimizers do) or use the "
           "out-of-place op");
}

// `other` broadcast to self's shape, converted to self's dtype and device.
Tensor operand_for(const Tensor& self, const Tensor& other, const char* op) {
  detail::check_defined(other, op, "operand");
  LG_CHECK(is_floating(self.dtype()) || !is_floating(other.dtype()), op, ": result type ",
           dtype_name(other.dtype()), " cannot be stored in ", self.describe());
  Tensor o = other.detach();
  if (o.device() != self.device()) o = o.to(self.device());
  return detail::broadcast_view(detail::cast_raw(o, self.dtype()), self.shape(), op);
}

Tensor& binary_inplace(Tensor& self, BinaryOp op, const Tensor& other, const char* name) {
  check_inplace(self, name);
  detail::check_no_internal_overlap(self, name);
  Tensor o = operand_for(self, other, name);
  detail::check_no_partial_overlap(self, o, name);
  kernel(&KernelTable::binary, self.device(), self.dtype(), name)(op, self, self, o);
  self.bump_version();
  return self;
}

Tensor scalar_operand(const Tensor& self, const Scalar& s, const char* op) {
  LG_CHECK(is_floating(self.dtype()) || !s.is_floating(), op, ": a floating-point scalar cannot ",
           "be stored in ", self.describe());
  return detail::scalar_tensor(s, self.dtype(), self.device());
}

}  // namespace

Tensor& Tensor::add_(const Tensor& other, const Scalar& alpha) {
  if (alpha.to_double() == 1.0) return binary_inplace(*this, BinaryOp::Add, other, "add_");
  // The scaled copy below no longer aliases *this, but an overlapping operand
  // is refused for every alpha alike.
  detail::check_defined(other, "add_", "operand");
  detail::check_no_partial_overlap(*this, detail::broadcast_view(other.detach(), shape(), "add_"),
                                   "add_");
  Tensor scaled;
  {
    NoGradGuard no_grad;
    scaled = other.detach() * alpha;
  }
  return binary_inplace(*this, BinaryOp::Add, scaled, "add_");
}
Tensor& Tensor::add_(const Scalar& other) {
  return binary_inplace(*this, BinaryOp::Add, scalar_operand(*this, other, "add_"), "add_");
}
Tensor& Tensor::sub_(const Tensor& other) { return binary_inplace(*this, BinaryOp::Sub, other, "sub_"); }
Tensor& Tensor::mul_(const Tensor& other) { return binary_inplace(*this, BinaryOp::Mul, other, "mul_"); }
Tensor& Tensor::mul_(const Scalar& other) {
  return binary_inplace(*this, BinaryOp::Mul, scalar_operand(*this, other, "mul_"), "mul_");
}
Tensor& Tensor::div_(const Scalar& other) {
  LG_CHECK(is_floating(dtype()), "div_: true division cannot be stored in ", describe());
  return binary_inplace(*this, BinaryOp::Div, scalar_operand(*this, other, "div_"), "div_");
}

// No overlap check: writing one value is idempotent, so an expanded view gets
// the same result in any order (PyTorch allows it too).
Tensor& Tensor::fill_(const Scalar& value) {
  check_inplace(*this, "fill_");
  kernel(&KernelTable::fill, device(), dtype(), "fill_")(*this, value);
  bump_version();
  return *this;
}

Tensor& Tensor::zero_() { return fill_(0); }

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_");
  detail::check_defined(src, "copy_", "source");
  Tensor s = src.detach();
  if (s.device() != device()) s = s.to(device());
  s = detail::broadcast_view(s, shape(), "copy_");
  detail::check_no_internal_overlap(*this, "copy_");
  detail::check_no_partial_overlap(*this, s, "copy_");
  kernel(&KernelTable::copy, device(), dtype(), "copy_")(*this, s);
  bump_version();
  return *this;
}

}  // namespace lg
