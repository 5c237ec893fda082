#include "samples.h"

#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/factory.h>

#include <numeric>

namespace lg::samples {

Tensor constant(const Shape& shape, double low, double high) {
  Tensor t = empty(shape, {.dtype = kFloat64});
  uniform_(t, low, high);
  return t;
}

Tensor leaf(const Shape& shape, double low, double high) {
  return constant(shape, low, high).requires_grad_(true);
}

Tensor strided_leaf(const Shape& shape, double low, double high) {
  Shape reversed(shape.rbegin(), shape.rend());
  std::vector<int64_t> dims(shape.size());
  std::iota(dims.rbegin(), dims.rend(), 0);
  Tensor base = constant(reversed, low, high);
  return base.permute(dims).detach().requires_grad_(true);
}

Tensor signed_leaf(const Shape& shape, double low, double high) {
  NoGradGuard no_grad;
  Tensor magnitude = constant(shape, low, high);
  Tensor sign = sub(mul(gt(constant(shape), 0).to(kFloat64), 2.0), 1.0);
  return mul(magnitude, sign).requires_grad_(true);
}

}  // namespace lg::samples
