// Matrix products: matmul with NumPy/PyTorch semantics (1-d operands,
// broadcast batch dimensions) and linear, on the backend's BLAS.
#pragma once
#include "../core/tensor.h"

namespace lg {

Tensor matmul(const Tensor& a, const Tensor& b);

// PyTorch's F.linear: x [..., in] @ weight [out, in]ᵀ + bias [out] -> [..., out];
// bias may be undefined (none). One GEMM against the transposed weight view
// (no copy) with the bias added in it; the backward is one GEMM each for dx
// and dweight over all leading dims, and column sums for dbias.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

}  // namespace lg
