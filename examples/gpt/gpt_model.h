// The GPT of lg-gpt: token and learned position embeddings, pre-norm causal
// transformer blocks (LASER or softmax attention), a final LayerNorm and a
// linear head to next-character logits. With causal = false the same network
// is a BERT-style encoder (lg-gpt --objective mlm): every position attends to
// every other, with ALiBi's distance penalty added to the scores (see
// alibi_bias), and the head predicts the character at each position. Parameter names follow nanoGPT's
// layout with nn::TransformerBlock's (PyTorch's) names inside the blocks.
#pragma once
#include <lasergrad/lasergrad.h>
#include <lasergrad/nn/nn.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace gpt {

struct GptShape {
  int64_t vocab_size = 0;
  int64_t seq_len = 0;  // the longest context
  int64_t layers = 0;
  int64_t d_model = 0;
  int64_t heads = 0;
  lg::nn::AttentionKind attention = lg::nn::AttentionKind::Laser;
  double dropout = 0.0;
  bool causal = true;  // false: bidirectional attention (masked language modelling)
};

// What generation keeps between steps: each block's attention cache of up to
// seq_len positions (Gpt::forward_cached).
struct GptCache {
  std::vector<lg::nn::AttentionCache> blocks;
  int64_t length() const { return blocks.empty() ? 0 : blocks.front().length(); }
  void clear() {
    for (lg::nn::AttentionCache& c : blocks) c.clear();
  }
};

// ALiBi's attention bias (Press et al. 2022) in its symmetric form for an
// encoder (as MosaicBERT): -m_h |i - j| for head h = 1..heads with slopes
// m_h = 2^(-8 h / heads); float32 [1, heads, length, length]. With learned
// absolute positions alone, bidirectional attention has no cheap way to
// prefer nearby characters, and the masked LM stays at the unigram plateau
// (measured on the Bible: MLM error 0.756 at step 600 and still 0.754 at
// 1500; with the bias, 0.49 at step 600).
lg::Tensor alibi_bias(int64_t heads, int64_t length);

class Gpt : public lg::nn::Module {
 public:
  explicit Gpt(const GptShape& shape)
      : shape_(shape),
        tok_emb(shape.vocab_size, shape.d_model),
        pos_emb(shape.seq_len, shape.d_model),
        ln_f(shape.d_model),
        lm_head(shape.d_model, shape.vocab_size, /*bias=*/false) {
    register_module("tok_emb", tok_emb);
    register_module("pos_emb", pos_emb);
    register_module("blocks", blocks);
    for (int64_t i = 0; i < shape.layers; ++i)
      blocks.emplace_back<lg::nn::TransformerBlock>(
          shape.d_model, shape.heads,
          lg::nn::TransformerBlockOptions{
              .attention = shape.attention, .causal = shape.causal, .dropout = shape.dropout});
    register_module("ln_f", ln_f);
    register_module("lm_head", lm_head);
    // GPT-2's initialisation: N(0, 0.02) embeddings and head (nn::Embedding's
    // N(0, 1) would start the logits far from uniform), and the projections
    // into the residual stream scaled down by sqrt(2 * layers).
    lg::nn::init::normal_(tok_emb.weight, 0.0, 0.02);
    lg::nn::init::normal_(pos_emb.weight, 0.0, 0.02);
    lg::nn::init::normal_(lm_head.weight, 0.0, 0.02);
    const double residual_std = 0.02 / std::sqrt(2.0 * static_cast<double>(shape.layers));
    for (size_t i = 0; i < blocks.size(); ++i) {
      auto& block = blocks.at<lg::nn::TransformerBlock>(i);
      lg::nn::init::normal_(block.self_attn.out_proj.weight, 0.0, residual_std);
      lg::nn::init::normal_(block.linear2.weight, 0.0, residual_std);
    }
  }

  // ids int64 [B, T] (T <= seq_len) -> logits [B, T, vocab_size].
  lg::Tensor forward(const lg::Tensor& ids) const {
    lg::Tensor x = pos_emb(tok_emb(ids));
    const lg::Tensor bias = shape_.causal ? lg::Tensor() : encoder_bias(ids.size(1), x.device());
    for (size_t i = 0; i < blocks.size(); ++i) x = blocks.at<lg::nn::TransformerBlock>(i)(x, bias);
    return lm_head(ln_f(x));
  }
  lg::Tensor operator()(const lg::Tensor& ids) const { return forward(ids); }

  GptCache make_cache() const {
    return {std::vector<lg::nn::AttentionCache>(blocks.size(), lg::nn::AttentionCache(shape_.seq_len))};
  }
  // ids [B, Tn], the tokens that follow the cache's (at positions length() ..
  // length() + Tn - 1 < seq_len) -> their logits [B, Tn, vocab_size], as
  // forward() on the whole sequence gives them; appends them to the cache.
  lg::Tensor forward_cached(const lg::Tensor& ids, GptCache& cache) const {
    lg::Tensor x = pos_emb.forward(tok_emb(ids), cache.length());
    for (size_t i = 0; i < blocks.size(); ++i)
      x = blocks.at<lg::nn::TransformerBlock>(i).forward_cached(x, cache.blocks.at(i));
    return lm_head(ln_f(x));
  }

  const GptShape& shape() const { return shape_; }

 private:
  // alibi_bias for `length` positions on `device`, built once per length.
  lg::Tensor encoder_bias(int64_t length, lg::Device device) const {
    if (!bias_.defined() || bias_.size(2) != length || bias_.device() != device)
      bias_ = alibi_bias(shape_.heads, length).to(device);
    return bias_;
  }

  GptShape shape_;
  mutable lg::Tensor bias_;

 public:
  lg::nn::Embedding tok_emb;
  lg::nn::PositionalEmbedding pos_emb;
  lg::nn::ModuleList blocks;
  lg::nn::LayerNorm ln_f;
  lg::nn::Linear lm_head;
};

}  // namespace gpt
