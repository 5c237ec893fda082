#include <lasergrad/core/error.h>
#include <lasergrad/nn/attention_diagnostics.h>
#include <lasergrad/nn/init.h>
#include <lasergrad/nn/transformer.h>
#include <lasergrad/ops/activation.h>
#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/attention.h>
#include <lasergrad/ops/dropout.h>
#include <lasergrad/ops/factory.h>
#include <lasergrad/ops/linalg.h>

namespace lg::nn {

AttentionKind attention_kind_from_string(const std::string& name) {
  if (name == "softmax") return AttentionKind::Softmax;
  if (name == "laser") return AttentionKind::Laser;
  detail::fail("attention kind must be \"softmax\" or \"laser\", got \"", name, "\"");
}

const char* attention_kind_name(AttentionKind kind) {
  return kind == AttentionKind::Laser ? "laser" : "softmax";
}

MultiHeadAttention::MultiHeadAttention(int64_t c, int64_t h, const MultiHeadAttentionOptions& opts)
    : embed_dim(c), num_heads(h), options(opts), out_proj(c > 0 ? c : 1, c > 0 ? c : 1, opts.bias) {
  LG_CHECK(c > 0 && h > 0 && c % h == 0, "nn::MultiHeadAttention: embed_dim ", c,
           " must be a positive multiple of num_heads ", h);
  LG_CHECK(opts.dropout >= 0 && opts.dropout <= 1,
           "nn::MultiHeadAttention: dropout must lie in [0, 1], got ", opts.dropout);
  // torch.nn.MultiheadAttention._reset_parameters.
  in_proj_weight = empty({3 * c, c});
  init::xavier_uniform_(in_proj_weight);
  register_parameter("in_proj_weight", in_proj_weight);
  if (opts.bias) {
    in_proj_bias = zeros({3 * c});
    register_parameter("in_proj_bias", in_proj_bias);
    init::zeros_(out_proj.bias);
  }
  register_module("out_proj", out_proj);
}

Tensor MultiHeadAttention::forward(const Tensor& x, const Tensor& mask) const {
  LG_CHECK(x.defined() && x.dim() == 3 && x.size(2) == embed_dim,
           "nn::MultiHeadAttention: expected input [B, T, ", embed_dim, "], got ",
           x.defined() ? x.describe() : std::string("undefined"));
  const int64_t b = x.size(0), t = x.size(1);
  AttentionOptions attn{.causal = options.causal, .mask = mask};
  const Tensor input = probe_ ? probing::probe_attention_input(probe_, x) : x;
  Tensor q = project(input, 0), k = project(input, 1), v = project(input, 2);
  const bool laser = options.attention == AttentionKind::Laser;
  if (probe_) probing::probe_attention_scores(*probe_, q, k, v, attn, laser);
  Tensor o = laser ? laser_attention(q, k, v, attn)
                                                       : scaled_dot_product_attention(q, k, v, attn);
  o = o.permute({0, 2, 1, 3}).reshape({b, t, embed_dim});
  return dropout(out_proj(o), options.dropout, is_training());
}

// One projection per q, k, v (rows of in_proj_weight), each viewed as
// [B, H, T, d] without a copy (the attention kernels read heads in place,
// write the output as [B, T, H, d] and return gradients in that layout, so
// the merge back to [B, T, C] is free); no [B, T, 3C] tensor or its
// zero-filled slice gradients are ever needed.
Tensor MultiHeadAttention::project(const Tensor& x, int64_t i) const {
  Tensor w = in_proj_weight.slice(0, i * embed_dim, (i + 1) * embed_dim);
  Tensor bias =
      in_proj_bias.defined() ? in_proj_bias.slice(0, i * embed_dim, (i + 1) * embed_dim) : Tensor();
  return linear(x, w, bias)
      .view({x.size(0), x.size(1), num_heads, embed_dim / num_heads})
      .permute({0, 2, 1, 3});
}

std::string MultiHeadAttention::extra_repr() const {
  return "embed_dim=" + std::to_string(embed_dim) + ", num_heads=" + std::to_string(num_heads) +
         ", attention=" + attention_kind_name(options.attention) +
         ", causal=" + (options.causal ? "true" : "false") +
         (options.dropout > 0 ? ", dropout=" + format_number(options.dropout) : "");
}

namespace {
int64_t feedforward_dim(int64_t d_model, const TransformerBlockOptions& o) {
  LG_CHECK(o.dim_feedforward >= 0, "nn::TransformerBlock: dim_feedforward must be >= 0, got ",
           o.dim_feedforward);
  return o.dim_feedforward > 0 ? o.dim_feedforward : 4 * (d_model > 0 ? d_model : 1);
}
}  // namespace

TransformerBlock::TransformerBlock(int64_t d_model, int64_t heads, const TransformerBlockOptions& o)
    : self_attn(d_model, heads, {.attention = o.attention, .causal = o.causal, .dropout = 0.0}),
      linear1(d_model, feedforward_dim(d_model, o)),
      dropout(o.dropout),
      linear2(feedforward_dim(d_model, o), d_model),
      norm1(d_model, o.layer_norm_eps),
      norm2(d_model, o.layer_norm_eps),
      dropout1(o.dropout),
      dropout2(o.dropout) {
  register_module("self_attn", self_attn);
  register_module("linear1", linear1);
  register_module("dropout", dropout);
  register_module("linear2", linear2);
  register_module("norm1", norm1);
  register_module("norm2", norm2);
  register_module("dropout1", dropout1);
  register_module("dropout2", dropout2);
}

Tensor TransformerBlock::forward(const Tensor& x, const Tensor& mask) const {
  Tensor h = x + dropout1(self_attn(norm1(x), mask));
  return h + dropout2(linear2(dropout(gelu(linear1(norm2(h))))));
}

Tensor TransformerBlock::forward_cached(const Tensor& x, AttentionCache& cache) const {
  Tensor h = x + dropout1(self_attn.forward_cached(norm1(x), cache));
  return h + dropout2(linear2(dropout(gelu(linear1(norm2(h))))));
}

}  // namespace lg::nn
