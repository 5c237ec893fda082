// Elementwise activation functions and their derivatives: tanh, sigmoid, relu,
// gelu (exact or tanh approximation), silu, softplus, and erf (gelu's backward).
#pragma once
#include <string_view>

#include "../core/tensor.h"

namespace lg {

// PyTorch's gelu(approximate=...): the exact erf form, or the tanh approximation.
enum class GeluApproximate { None, Tanh };

// Integer and bool inputs give float32, except relu, which keeps int64.
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x, GeluApproximate approximate = GeluApproximate::None);
Tensor gelu(const Tensor& x, std::string_view approximate);  // "none" or "tanh"
Tensor silu(const Tensor& x);
// log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (PyTorch's rule).
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
Tensor erf(const Tensor& x);

}  // namespace lg
