// Gradient clipping between backward() and the optimizer's step().
#pragma once
#include <vector>

#include "../core/tensor.h"

namespace lg::nn {

// The norm of all gradients together (as if concatenated), accumulated in
// float64; norm_type is p > 0 or INFINITY (the largest |g|). If it exceeds
// max_norm, every gradient is scaled in place by max_norm / (norm + 1e-6).
// Returns the norm before clipping. Parameters without a gradient are
// skipped (0 if none has one). A NaN or infinite norm is returned as is and
// nothing is scaled (scaling would turn every gradient into NaN or 0): the
// caller decides, e.g. skips the step.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);

// Clamps every gradient in place to [-clip_value, clip_value] (clip_value >= 0).
void clip_grad_value(const std::vector<Tensor>& params, double clip_value);

}  // namespace lg::nn
