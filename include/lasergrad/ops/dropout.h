// Dropout: zeroes elements with probability p in training and scales the rest
// by 1/(1-p); the mask comes from lg's global generator (manual_seed).
#pragma once
#include "../core/tensor.h"

namespace lg {

// The identity when !train or p == 0; zeros when p == 1.
Tensor dropout(const Tensor& x, double p, bool train = true);

}  // namespace lg
