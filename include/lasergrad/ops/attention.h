// Attention on [B, H, T, d]: scaled_dot_product_attention (softmax) and
// laser_attention (LASER: log of softmax-attention over exp(V), laser.md),
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
// keys are all masked gives output 0 and gradient 0.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options = {});
// log(softmax(q kᵀ · scale + mask) exp(v)), finite and accurate for any finite input.
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
