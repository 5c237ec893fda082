// Matrix products: matmul with NumPy/PyTorch semantics (1-d operands,
// broadcast batch dimensions), on the backend's BLAS.
#pragma once
#include "../core/tensor.h"

namespace lg {

Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace lg
