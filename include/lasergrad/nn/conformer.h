// The Conformer block (Gulati et al., "Conformer: Convolution-augmented
// Transformer for Speech Recognition"): a half-step feed-forward module,
// self-attention (softmax or LASER), a convolution module and a second
// half-step feed-forward module, then a final LayerNorm. Structure and
// parameter names are those of torchaudio 0.13's
// torchaudio.models.conformer.ConformerLayer (convolution after attention,
// BatchNorm), so its state dict loads into that PyTorch module strictly.
//
// Where it differs from torchaudio:
// - Padding never leaks into valid frames: padded keys are masked in attention
//   (as torchaudio does), and padded frames are also zeroed right before the
//   depthwise convolution (torchaudio convolves whatever the padded frames
//   hold into the last valid ones). In eval mode an utterance alone gives the
//   same output as inside a batch padded to a longer length.
// - In training, BatchNorm1d takes its statistics over all frames of the
//   batch, padded ones included, as torchaudio does; so training outputs (not
//   eval ones) depend on the padding.
// - No dropout of the attention weights inside self_attn (see
//   MultiHeadAttentionOptions::dropout); self_attn_dropout, the feed-forward
//   and convolution dropouts are torchaudio's. Equal in eval mode or with
//   dropout 0.
#pragma once
#include <cstdint>
#include <string>

#include "activation.h"
#include "container.h"
#include "conv.h"
#include "linear.h"
#include "module.h"
#include "normalization.h"
#include "transformer.h"

namespace lg::nn {

struct ConformerBlockOptions {
  AttentionKind attention = AttentionKind::Softmax;
  double dropout = 0.0;
  double layer_norm_eps = 1e-5;
};

// torchaudio's _FeedForwardModule: sequential = LayerNorm, Linear(C -> ffn),
// SiLU, Dropout, Linear(ffn -> C), Dropout (children "0" .. "5").
class ConformerFeedForward : public Module {
 public:
  ConformerFeedForward(int64_t d_model, int64_t ffn_dim, double dropout, double eps = 1e-5);
  Tensor forward(const Tensor& x) const { return sequential(x); }  // [..., C] -> [..., C]
  Tensor operator()(const Tensor& x) const { return forward(x); }

  Sequential sequential;
};

// torchaudio's _ConvolutionModule (bias = true, BatchNorm): layer_norm, then
// sequential = pointwise Conv1d(C -> 2C), GLU over channels, depthwise
// Conv1d(C, kernel k, padding (k-1)/2, groups C), BatchNorm1d(C), SiLU,
// pointwise Conv1d(C -> C), Dropout (children "0" .. "6"). forward runs the
// pointwise convolutions as linear layers on [B, T, C] (their kernel-1
// weights viewed as matrices): the same function, without the transposes.
class ConformerConvModule : public Module {
 public:
  ConformerConvModule(int64_t d_model, int64_t kernel_size, double dropout, double eps = 1e-5);
  // x [B, T, C]; key_padding [B, T] bool (true: a padded frame) or undefined.
  // Padded frames are zeroed after the GLU, before the depthwise convolution.
  Tensor forward(const Tensor& x, const Tensor& key_padding = {});
  Tensor operator()(const Tensor& x, const Tensor& key_padding = {}) {
    return forward(x, key_padding);
  }

  LayerNorm layer_norm;
  Sequential sequential;
  // The children of `sequential`, to call one by one.
  Conv1d* pointwise1 = nullptr;
  Conv1d* depthwise = nullptr;
  BatchNorm1d* batch_norm = nullptr;
  Conv1d* pointwise2 = nullptr;
  Dropout* conv_dropout = nullptr;
};

// x + ffn1(x) / 2; x + self_attn_dropout(self_attn(self_attn_layer_norm(x)));
// x + conv_module(x); x + ffn2(x) / 2; final_layer_norm(x).
class ConformerBlock : public Module {
 public:
  // d_model divisible by num_heads; conv_kernel odd (the convolution keeps T).
  ConformerBlock(int64_t d_model, int64_t num_heads, int64_t ffn_dim, int64_t conv_kernel,
                 const ConformerBlockOptions& options = {});
  // x [B, T, d_model] floating -> [B, T, d_model]. key_padding [B, T] bool,
  // true where a frame is padding, or undefined (no padding). Not const: in
  // training, BatchNorm updates its running statistics.
  Tensor forward(const Tensor& x, const Tensor& key_padding = {});
  Tensor operator()(const Tensor& x, const Tensor& key_padding = {}) {
    return forward(x, key_padding);
  }
  std::string extra_repr() const override;

  int64_t d_model, num_heads, ffn_dim, conv_kernel;
  ConformerBlockOptions options;
  ConformerFeedForward ffn1;
  LayerNorm self_attn_layer_norm;
  MultiHeadAttention self_attn;
  Dropout self_attn_dropout;
  ConformerConvModule conv_module;
  ConformerFeedForward ffn2;
  LayerNorm final_layer_norm;
};

}  // namespace lg::nn
