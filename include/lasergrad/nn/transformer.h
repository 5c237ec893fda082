// Transformer layers on the fused attention ops: MultiHeadAttention (softmax
// or LASER, self-attention on [B, T, C]) and a pre-norm TransformerBlock with
// a GELU MLP. Parameter names and layouts are those of
// torch.nn.MultiheadAttention and torch.nn.TransformerEncoderLayer(
// norm_first=True, activation="gelu", batch_first=True), so their state dicts
// load into those PyTorch modules.
#pragma once
#include <memory>
#include <string>

#include "activation.h"
#include "linear.h"
#include "module.h"
#include "normalization.h"

namespace lg::nn {

enum class AttentionKind { Softmax, Laser };
struct AttentionProbe;  // attention_diagnostics.h
AttentionKind attention_kind_from_string(const std::string& name);  // "softmax" or "laser"
const char* attention_kind_name(AttentionKind kind);

struct MultiHeadAttentionOptions {
  AttentionKind attention = AttentionKind::Softmax;
  bool causal = false;
  // Differs from torch.nn.MultiheadAttention(dropout=p) in training: we drop
  // elements of the module's output (after out_proj), PyTorch drops attention
  // weights (softmax(q kᵀ) before they multiply v). The fused kernels never
  // materialise those weights, and dropping them would need a mask the
  // backward regenerates (not implemented). Equal in eval mode or with p = 0,
  // which is how the PyTorch-loading test (tests/torch_compat) compares.
  double dropout = 0.0;
  bool bias = true;
};

// What a causal self-attention keeps of the positions it has seen, so that a
// generator feeds one new token at a time instead of the whole context
// (incremental decoding): the keys and values of every head, in buffers of
// `capacity` positions allocated at the first use. For LASER attention it
// also keeps exp(v - m), m the running per-column maximum of the values
// (docs/laser.md), rescaled when a new value raises m, so that a step costs
// one pass over the cache. Filled by MultiHeadAttention::forward_cached.
class AttentionCache {
 public:
  explicit AttentionCache(int64_t capacity = 0) : capacity_(capacity) {}
  int64_t capacity() const { return capacity_; }
  int64_t length() const { return length_; }  // positions cached
  void clear() { length_ = 0; }              // keeps the buffers

 private:
  friend class MultiHeadAttention;
  int64_t capacity_ = 0, length_ = 0;
  Tensor keys_, values_;           // [B, H, capacity, d]
  Tensor shifted_, column_max_;    // LASER: exp(v - m) [B, H, capacity, d], m [B, H, 1, d]
};

class MultiHeadAttention : public Module {
 public:
  MultiHeadAttention(int64_t embed_dim, int64_t num_heads,
                     const MultiHeadAttentionOptions& options = {});
  // x [B, T, C] -> [B, T, C]; mask (optional) broadcastable to [B, H, T, T]:
  // a bool keep-mask or an additive float mask, combined with `causal`.
  Tensor forward(const Tensor& x, const Tensor& mask = {}) const;
  Tensor operator()(const Tensor& x, const Tensor& mask = {}) const { return forward(x, mask); }
  // Causal self-attention of x [B, Tn, C], the Tn positions that follow the
  // cache's, over the cached positions and themselves; appends them to the
  // cache. Equals the rows of forward() on the whole sequence (within float
  // rounding). Needs options.causal and room for Tn more positions in the
  // cache, and the same batch size as the cache's first use. No autograd.
  Tensor forward_cached(const Tensor& x, AttentionCache& cache) const;
  std::string extra_repr() const override;

  int64_t embed_dim, num_heads;
  MultiHeadAttentionOptions options;
  Tensor in_proj_weight;  // [3C, C]: the q, k, v projections stacked
  Tensor in_proj_bias;    // [3C], undefined without bias
  Linear out_proj;

 private:
  friend class AttentionDiagnostics;
  // q (i = 0), k (1) or v (2) of x [B, T, C] as [B, H, T, d], a view of the projection.
  Tensor project(const Tensor& x, int64_t i) const;
  // Set while an AttentionDiagnostics watches this layer.
  mutable std::shared_ptr<AttentionProbe> probe_;
};

struct TransformerBlockOptions {
  AttentionKind attention = AttentionKind::Softmax;
  bool causal = false;
  // dropout1 on the attention block's output, in the MLP and dropout2 on its
  // output, as torch.nn.TransformerEncoderLayer; unlike it, no dropout of the
  // attention weights inside self_attn (see MultiHeadAttentionOptions::dropout),
  // so training with dropout > 0 is not PyTorch's (eval and dropout 0 are).
  double dropout = 0.0;
  int64_t dim_feedforward = 0;  // 0: 4 * d_model
  double layer_norm_eps = 1e-5;
};

// x + attn(norm1(x)), then x + mlp(norm2(x)) with mlp = linear2(gelu(linear1(.))).
class TransformerBlock : public Module {
 public:
  TransformerBlock(int64_t d_model, int64_t num_heads, const TransformerBlockOptions& options = {});
  Tensor forward(const Tensor& x, const Tensor& mask = {}) const;
  Tensor operator()(const Tensor& x, const Tensor& mask = {}) const { return forward(x, mask); }
  // forward() for the positions that follow the cache's (self_attn.forward_cached).
  Tensor forward_cached(const Tensor& x, AttentionCache& cache) const;

  MultiHeadAttention self_attn;
  Linear linear1;
  Dropout dropout;
  Linear linear2;
  LayerNorm norm1, norm2;
  Dropout dropout1, dropout2;
};

}  // namespace lg::nn
