// Shape and copy ops: views that share storage (view/reshape, transpose,
// permute, slice, select, expand, squeeze/unsqueeze, flatten; also Tensor
// methods), and the ops that copy (contiguous, clone, to, cat). All are
// differentiable.
#pragma once
#include <vector>

#include "../core/grad_mode.h"
#include "../core/tensor.h"

namespace lg {

Tensor reshape(const Tensor& a, const Shape& shape);
Tensor view(const Tensor& a, const Shape& shape);
Tensor transpose(const Tensor& a, int64_t dim0, int64_t dim1);
Tensor permute(const Tensor& a, const std::vector<int64_t>& dims);
Tensor slice(const Tensor& a, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor expand(const Tensor& a, const Shape& shape);
Tensor squeeze(const Tensor& a);
Tensor squeeze(const Tensor& a, int64_t dim);
Tensor unsqueeze(const Tensor& a, int64_t dim);
Tensor flatten(const Tensor& a, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);

// The gradient of slice: zeros of `input_shape` with `grad` written into the
// sliced positions (differentiable: its own gradient is the slice).
Tensor slice_backward(const Tensor& grad, const Shape& input_shape, int64_t dim, int64_t start,
                      int64_t end, int64_t step);

}  // namespace lg
