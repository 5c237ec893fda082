// Normalised exponentials along one dim: softmax and log_softmax, numerically
// stable for any finite input, with fused forward and backward kernels.
#pragma once
#include "../core/tensor.h"

namespace lg {

// exp(x - max) / sum(exp(x - max)) along dim (negative dims count from the
// end). -inf entries get probability 0; a slice of only -inf inputs gives 0
// and gradient 0, the rule attention uses for a query with every key masked.
Tensor softmax(const Tensor& x, int64_t dim);
// (x - max) - log(sum(exp(x - max))) along dim: -inf where x is -inf, and 0
// with gradient 0 on a slice of only -inf inputs (PyTorch gives NaN there).
Tensor log_softmax(const Tensor& x, int64_t dim);

}  // namespace lg
