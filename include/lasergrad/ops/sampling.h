// Sampling helpers for text generation: multinomial draws (reproducible under
// manual_seed) and topk. The draws and indices carry no gradient.
#pragma once
#include "../core/tensor.h"

namespace lg {

// num_samples category indices (int64) per row of a 1-d [C] or 2-d [R,C]
// tensor of non-negative weights (need not sum to 1); without replacement a
// category is drawn at most once. Result: [num_samples] or [R, num_samples].
Tensor multinomial(const Tensor& probs, int64_t num_samples, bool replacement = false);

struct TopK {
  Tensor values;   // differentiable: the gradient flows back to the selected elements
  Tensor indices;  // int64
};
// The k largest (or smallest) elements along dim, in sorted order (also with
// sorted = false), NaN counting as the largest and ties taking the lower index.
TopK topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true, bool sorted = true);

}  // namespace lg
