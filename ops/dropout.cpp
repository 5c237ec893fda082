#include <lasergrad/core/random.h>
#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/dropout.h>
#include <lasergrad/ops/factory.h>

#include "op_support.h"

namespace lg {

Tensor dropout(const Tensor& x, double p, bool train) {
  detail::check_defined(x, "dropout");
  LG_CHECK(p >= 0 && p <= 1, "dropout: probability has to be between 0 and 1, got ", p);
  if (!train || p == 0) return x;
  LG_CHECK(is_floating(x.dtype()), "dropout: expected a floating-point input, got ", x.describe());
  if (p == 1) return x * 0.0;
  Tensor mask;
  {
    NoGradGuard no_grad;
    auto fused = kernel_table(x.device(), x.dtype()).dropout_mask;
    if (fused) {  // one pass, the same mask as the formula below
      mask = Tensor::empty(x.shape(), x.dtype(), x.device());
      RngState s = reserve_random(static_cast<uint64_t>(mask.numel()));
      fused(mask, p, s.seed, s.offset);
    } else {
      Tensor u = rand(x.shape(), {.dtype = x.dtype(), .device = x.device()});
      mask = lt(u, 1 - p).to(x.dtype()) * (1.0 / (1 - p));
    }
  }
  // mul saves the mask, so the backward multiplies by the same mask.
  return x * mask;
}

}  // namespace lg
