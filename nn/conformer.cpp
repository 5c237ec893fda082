#include <lasergrad/core/error.h>
#include <lasergrad/nn/conformer.h>
#include <lasergrad/ops/activation.h>
#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/elementwise_select.h>
#include <lasergrad/ops/linalg.h>

#include <string>

namespace lg::nn {

namespace {

std::string describe(const Tensor& t) { return t.defined() ? t.describe() : "undefined"; }

// torch.nn.GLU(dim=1) on [B, 2C, T]: the first C channels times the sigmoid of the others.
Tensor glu_channels(const Tensor& x) {
  const int64_t c = x.size(1) / 2;
  return x.slice(1, 0, c) * sigmoid(x.slice(1, c, 2 * c));
}

// Checks the constructor's arguments before any child is built (so that the
// error names the Conformer block, not one of its layers); returns d_model.
int64_t checked_d_model(int64_t d_model, int64_t heads, int64_t ffn_dim, int64_t kernel,
                        const ConformerBlockOptions& o) {
  LG_CHECK(d_model > 0 && heads > 0 && d_model % heads == 0, "nn::ConformerBlock: d_model ",
           d_model, " must be a positive multiple of num_heads ", heads);
  LG_CHECK(ffn_dim > 0, "nn::ConformerBlock: ffn_dim must be positive, got ", ffn_dim);
  LG_CHECK(kernel > 0 && kernel % 2 == 1,
           "nn::ConformerBlock: conv_kernel must be odd and positive (the convolution keeps "
           "the length), got ",
           kernel);
  LG_CHECK(o.dropout >= 0 && o.dropout <= 1, "nn::ConformerBlock: dropout must lie in [0, 1], got ",
           o.dropout);
  LG_CHECK(o.layer_norm_eps > 0, "nn::ConformerBlock: layer_norm_eps must be positive, got ",
           o.layer_norm_eps);
  return d_model;
}

}  // namespace

ConformerFeedForward::ConformerFeedForward(int64_t d_model, int64_t ffn_dim, double dropout,
                                           double eps) {
  sequential.add<LayerNorm>(d_model, eps);
  sequential.add<Linear>(d_model, ffn_dim);
  sequential.add<SiLU>();
  sequential.add<Dropout>(dropout);
  sequential.add<Linear>(ffn_dim, d_model);
  sequential.add<Dropout>(dropout);
  register_module("sequential", sequential);
}

ConformerConvModule::ConformerConvModule(int64_t d_model, int64_t k, double dropout, double eps)
    : layer_norm(d_model, eps) {
  pointwise1 = &sequential.add<Conv1d>(d_model, 2 * d_model, 1);
  sequential.add(glu_channels);
  depthwise = &sequential.add<Conv1d>(d_model, d_model, k,
                                      Conv1dOptions{.padding = (k - 1) / 2, .groups = d_model});
  batch_norm = &sequential.add<BatchNorm1d>(d_model);
  sequential.add<SiLU>();
  pointwise2 = &sequential.add<Conv1d>(d_model, d_model, 1);
  conv_dropout = &sequential.add<Dropout>(dropout);
  register_module("layer_norm", layer_norm);
  register_module("sequential", sequential);
}

namespace {

// A kernel-1 Conv1d applied to [B, T, Cin] as one linear layer over all B*T
// frames (one GEMM, no transposes or column buffer): the same numbers as the
// convolution on [B, Cin, T], and the same parameters.
Tensor pointwise(const Conv1d& conv, const Tensor& x) {
  return linear(x, conv.weight.view({conv.out_channels, conv.in_channels}), conv.bias);
}

}  // namespace

Tensor ConformerConvModule::forward(const Tensor& x, const Tensor& key_padding) {
  Tensor h = pointwise(*pointwise1, layer_norm(x));  // [B, T, 2C]
  const int64_t c = h.size(2) / 2;
  h = h.slice(2, 0, c) * sigmoid(h.slice(2, c, 2 * c));  // GLU over channels
  if (key_padding.defined()) h = masked_fill(h, key_padding.unsqueeze(2), 0.0);
  h = silu(batch_norm->forward((*depthwise)(h.transpose(1, 2))));  // [B, C, T]
  return (*conv_dropout)(pointwise(*pointwise2, h.transpose(1, 2)));
}

ConformerBlock::ConformerBlock(int64_t d, int64_t heads, int64_t ffn, int64_t kernel,
                               const ConformerBlockOptions& o)
    : d_model(checked_d_model(d, heads, ffn, kernel, o)),
      num_heads(heads),
      ffn_dim(ffn),
      conv_kernel(kernel),
      options(o),
      ffn1(d, ffn, o.dropout, o.layer_norm_eps),
      self_attn_layer_norm(d, o.layer_norm_eps),
      self_attn(d, heads, {.attention = o.attention, .causal = false, .dropout = 0.0}),
      self_attn_dropout(o.dropout),
      conv_module(d, kernel, o.dropout, o.layer_norm_eps),
      ffn2(d, ffn, o.dropout, o.layer_norm_eps),
      final_layer_norm(d, o.layer_norm_eps) {
  register_module("ffn1", ffn1);
  register_module("self_attn_layer_norm", self_attn_layer_norm);
  register_module("self_attn", self_attn);
  register_module("self_attn_dropout", self_attn_dropout);
  register_module("conv_module", conv_module);
  register_module("ffn2", ffn2);
  register_module("final_layer_norm", final_layer_norm);
}

Tensor ConformerBlock::forward(const Tensor& x, const Tensor& key_padding) {
  LG_CHECK(x.defined() && x.dim() == 3 && x.size(2) == d_model && is_floating(x.dtype()),
           "nn::ConformerBlock: expected a floating input [B, T, ", d_model, "], got ",
           describe(x));
  Tensor keep;  // [B, 1, 1, T]: the attention's keep-mask over keys
  if (key_padding.defined()) {
    LG_CHECK(key_padding.dtype() == DType::Bool && key_padding.dim() == 2 &&
                 key_padding.size(0) == x.size(0) && key_padding.size(1) == x.size(1),
             "nn::ConformerBlock: key_padding must be bool [B, T] = [", x.size(0), ",", x.size(1),
             "] for input ", x.describe(), ", got ", key_padding.describe());
    LG_CHECK(key_padding.device() == x.device(), "nn::ConformerBlock: key_padding ",
             key_padding.describe(), " is not on the input's device (", x.describe(), ")");
    keep = logical_not(key_padding).unsqueeze(1).unsqueeze(1);
  }
  Tensor h = x + ffn1(x) * 0.5;
  h = h + self_attn_dropout(self_attn(self_attn_layer_norm(h), keep));
  h = h + conv_module(h, key_padding);
  h = h + ffn2(h) * 0.5;
  return final_layer_norm(h);
}

std::string ConformerBlock::extra_repr() const {
  return "d_model=" + std::to_string(d_model) + ", num_heads=" + std::to_string(num_heads) +
         ", ffn_dim=" + std::to_string(ffn_dim) + ", conv_kernel=" + std::to_string(conv_kernel) +
         ", attention=" + attention_kind_name(options.attention) +
         (options.dropout > 0 ? ", dropout=" + format_number(options.dropout) : "");
}

}  // namespace lg::nn
