// Attention on [B, H, T, d]: scaled_dot_product_attention (softmax) and
// laser_attention (LASER: log of softmax-attention over exp(V), docs/laser.md),
// both on one fused, tiled kernel family, plus their composite references.
#pragma once
#include <optional>

#include "../core/tensor.h"

namespace lg {

struct AttentionOptions {
  bool causal = false;  // bottom-right aligned when Tq != Tk
  Tensor mask = {};     // broadcastable to [B,H,Tq,Tk]: bool keep-mask or additive float
  std::optional<double> scale = {};  // default 1/sqrt(d)
};

// softmax(q kᵀ · scale + mask) v. q [B,H,Tq,d], k and v [B,H,Tk,d]. A row whose
// keys are all masked gives output 0 and gradient 0; a row whose scores
// overflow the dtype gives NaN (as PyTorch's).
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options = {});
// log(softmax(q kᵀ · scale + mask) exp(v)) (docs/laser.md). Finite for any
// finite q, k, v whose scores q kᵀ · scale are finite in the dtype: a row whose
// scores overflow (|q·k·scale| > FLT_MAX in float32) gives a non-finite output
// row, as softmax attention and PyTorch do; other rows are unaffected. The
// output is accurate to a few ulps of max|v|; the float32 gradients lose
// accuracy in proportion to max|v|: max error <= (2^-24 · max|v| + 1e-5) ·
// max|gradient|, a bound of 0.6% at max|v| = 1e5 (use float64 beyond).
// Under create_graph the backward is the composite in log-sum-exp form, which
// materialises [B,H,Tq,Tk,d].
Tensor laser_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                       const AttentionOptions& options = {});

// The same functions composed from ops (materialising the Tq x Tk matrix), for
// tests and benchmarks. The LASER reference is the paper's formula with the
// global column max of v as shift, which underflows to -inf in float32 when a
// row's values sit ~87 below that max.
Tensor scaled_dot_product_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v,
                                              const AttentionOptions& options = {});
Tensor laser_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v,
                                 const AttentionOptions& options = {});

}  // namespace lg
