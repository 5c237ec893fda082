// Transformer layers on the fused attention ops: MultiHeadAttention (softmax
// or LASER, self-attention on [B, T, C]) and a pre-norm TransformerBlock with
// a GELU MLP. Parameter names and layouts are those of
// torch.nn.MultiheadAttention and torch.nn.TransformerEncoderLayer(
// norm_first=True, activation="gelu", batch_first=True), so their state dicts
// load into those PyTorch modules.
#pragma once
#include <string>

#include "activation.h"
#include "linear.h"
#include "module.h"
#include "normalization.h"

namespace lg::nn {

enum class AttentionKind { Softmax, Laser };
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

class MultiHeadAttention : public Module {
 public:
  MultiHeadAttention(int64_t embed_dim, int64_t num_heads,
                     const MultiHeadAttentionOptions& options = {});
  // x [B, T, C] -> [B, T, C]; mask (optional) broadcastable to [B, H, T, T]:
  // a bool keep-mask or an additive float mask, combined with `causal`.
  Tensor forward(const Tensor& x, const Tensor& mask = {}) const;
  Tensor operator()(const Tensor& x, const Tensor& mask = {}) const { return forward(x, mask); }
  std::string extra_repr() const override;

  int64_t embed_dim, num_heads;
  MultiHeadAttentionOptions options;
  Tensor in_proj_weight;  // [3C, C]: the q, k, v projections stacked
  Tensor in_proj_bias;    // [3C], undefined without bias
  Linear out_proj;
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

  MultiHeadAttention self_attn;
  Linear linear1;
  Dropout dropout;
  Linear linear2;
  LayerNorm norm1, norm2;
  Dropout dropout1, dropout2;
};

}  // namespace lg::nn
