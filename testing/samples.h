// Helpers for op-registry sample generators: float64 leaves with controlled
// value ranges, contiguous or not.
#pragma once
#include <lasergrad/core/grad_mode.h>
#include <lasergrad/core/tensor.h>

#include "registry.h"

namespace lg::samples {

// Uniform in [low, high), float64, requires_grad.
Tensor leaf(const Shape& shape, double low = -1.0, double high = 1.0);
// Same values range, but a non-contiguous leaf (a transposed view of its storage).
Tensor strided_leaf(const Shape& shape, double low = -1.0, double high = 1.0);
// Magnitudes in [low, high) with random signs: away from the kink at 0.
Tensor signed_leaf(const Shape& shape, double low, double high);
// A float64 tensor that is not checked (requires_grad false).
Tensor constant(const Shape& shape, double low = -1.0, double high = 1.0);

}  // namespace lg::samples
