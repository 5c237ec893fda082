// Reductions over all elements or over dims, with keepdim: sum, mean, max,
// min (values), argmax, argmin (indices), logsumexp, var, std; and cumsum.
#pragma once
#include <vector>

#include "../core/tensor.h"

namespace lg {

Tensor sum(const Tensor& a);
Tensor sum(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& a);
Tensor mean(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim = false);
// max/min over dims return the values; ties share the gradient equally.
Tensor max(const Tensor& a);
Tensor max(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor min(const Tensor& a);
Tensor min(const Tensor& a, int64_t dim, bool keepdim = false);
// Indices (int64) of the first max/min; over the flattened tensor without dim.
Tensor argmax(const Tensor& a);
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& a);
Tensor argmin(const Tensor& a, int64_t dim, bool keepdim = false);

// log(sum(exp(a))) over dims, shifted by the max so that it neither overflows
// nor underflows; a slice of all -inf gives -inf with gradient 0 (not NaN).
Tensor logsumexp(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor logsumexp(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim = false);
// Variance over dims (all dims without them), divided by n - 1 if unbiased
// (n = 1 then gives NaN, as PyTorch). Floating-point input only.
Tensor var(const Tensor& a);
Tensor var(const Tensor& a, int64_t dim, bool unbiased = true, bool keepdim = false);
Tensor var(const Tensor& a, const std::vector<int64_t>& dims, bool unbiased = true,
           bool keepdim = false);
// sqrt(var). Where the deviation is 0 the gradient is NaN (0 * inf), as PyTorch's.
// Spell it lg::std under `using namespace lg`, where a bare std is ambiguous.
Tensor std(const Tensor& a);
Tensor std(const Tensor& a, int64_t dim, bool unbiased = true, bool keepdim = false);
Tensor std(const Tensor& a, const std::vector<int64_t>& dims, bool unbiased = true,
           bool keepdim = false);
// Inclusive prefix sums along dim; integer and bool input sum as int64.
Tensor cumsum(const Tensor& a, int64_t dim);

}  // namespace lg
