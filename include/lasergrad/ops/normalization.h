// Normalisation layers' functions: layer_norm (fused CPU forward and backward),
// rms_norm and batch_norm (training with running statistics, and eval).
#pragma once
#include <optional>

#include "../core/tensor.h"

namespace lg {

// Normalises over the trailing dims `normalized_shape`; weight and bias have
// that shape, or are undefined Tensors (absent).
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5);
// The same function written in differentiable ops: the reference the fused
// kernels are tested and benchmarked against.
Tensor layer_norm_composite(const Tensor& x, const Shape& normalized_shape,
                            const Tensor& weight = {}, const Tensor& bias = {}, double eps = 1e-5);

// x / sqrt(mean(x^2) + eps) * weight over `normalized_shape`; eps defaults to
// the dtype's machine epsilon, as PyTorch's.
Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {},
                std::optional<double> eps = {});

// x is [N,C], [N,C,L] or [N,C,H,W]; statistics per channel C. Training
// normalises with the batch's (biased) variance and, where the running
// buffers are defined, updates them in place with the unbiased one:
// running = (1 - momentum) * running + momentum * batch. Eval uses the running stats.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = {}, const Tensor& bias = {}, bool training = false,
                  double momentum = 0.1, double eps = 1e-5);

}  // namespace lg
