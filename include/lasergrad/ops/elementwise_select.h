// Elementwise selection with broadcasting: where, masked_fill, clamp, and the
// logical ops that combine boolean masks.
#pragma once
#include <optional>

#include "../core/tensor.h"

namespace lg {

// cond ? a : b elementwise; cond is bool; all three broadcast together; the
// result has a and b's promoted dtype. Gradients flow to a and b where selected.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, const Scalar& b);
Tensor where(const Tensor& cond, const Scalar& a, const Tensor& b);
// x with `value` where mask (bool, broadcastable to x's shape) is true; keeps x's dtype.
Tensor masked_fill(const Tensor& x, const Tensor& mask, const Scalar& value);
// min(max(x, min), max) with either bound optional (not both absent); gradient
// 1 where min <= x <= max, else 0.
Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max = std::nullopt);

// Logical ops: any dtype, non-zero counts as true; the result is bool.
Tensor logical_not(const Tensor& a);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);

}  // namespace lg
