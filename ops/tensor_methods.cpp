// Tensor's math convenience methods, declared in core/tensor.h and defined
// here over the ops (the one documented exception to "core includes no op").
#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/reduction.h>

#include "../core/kernels.h"

namespace lg {

Tensor Tensor::sum() const { return lg::sum(*this); }
Tensor Tensor::sum(int64_t dim, bool keepdim) const { return lg::sum(*this, dim, keepdim); }
Tensor Tensor::mean() const { return lg::mean(*this); }
Tensor Tensor::mean(int64_t dim, bool keepdim) const { return lg::mean(*this, dim, keepdim); }
Tensor Tensor::max() const { return lg::max(*this); }
Tensor Tensor::max(int64_t dim, bool keepdim) const { return lg::max(*this, dim, keepdim); }
Tensor Tensor::exp() const { return lg::exp(*this); }
Tensor Tensor::log() const { return lg::log(*this); }
Tensor Tensor::sqrt() const { return lg::sqrt(*this); }
Tensor Tensor::abs() const { return lg::abs(*this); }
Tensor Tensor::neg() const { return lg::neg(*this); }
Tensor Tensor::pow(const Scalar& exponent) const { return lg::pow(*this, exponent); }
Tensor Tensor::add(const Tensor& other) const { return lg::add(*this, other); }

bool Tensor::all_finite() const {
  if (!is_floating(dtype())) return true;
  return kernel(&KernelTable::all_finite, device(), dtype(), "all_finite")(*this);
}

Scalar Tensor::item_scalar() const {
  LG_CHECK(defined(), "item: called on an undefined tensor");
  LG_CHECK(numel() == 1, "item: only a tensor with one element can be converted to a number, got ",
           describe());
  Tensor c = to(Device::cpu()).detach();
  switch (dtype()) {
    case DType::Float32: return *c.data_ptr<float>();
    case DType::Float64: return *c.data_ptr<double>();
    case DType::Int64: return *c.data_ptr<int64_t>();
    case DType::Bool: return *c.data_ptr<bool>();
  }
  return 0;
}

}  // namespace lg
