// Position information for sequence models: a learned positional embedding
// (a table [max_len, dim] added to the input, GPT-2's wpe) and the fixed
// sinusoidal encoding of "Attention Is All You Need".
#pragma once
#include "module.h"

namespace lg::nn {

class PositionalEmbedding : public Module {
 public:
  // weight ~ N(0, 1) as nn::Embedding's (a GPT usually re-initialises it).
  PositionalEmbedding(int64_t max_len, int64_t dim);
  // x [B, T, dim] (T <= max_len) -> x + weight[0:T].
  Tensor forward(const Tensor& x) const;
  // Positions offset..offset+T-1 (offset + T <= max_len): for tokens that follow
  // `offset` earlier ones, as in incremental decoding.
  Tensor forward(const Tensor& x, int64_t offset) const;
  Tensor operator()(const Tensor& x) const { return forward(x); }
  std::string extra_repr() const override;

  int64_t max_len, dim;
  Tensor weight;  // [max_len, dim]
};

// [T, dim]: sin(pos / 10000^(2i/dim)) at even columns 2i, cos at odd ones.
Tensor sinusoidal_positional_encoding(int64_t length, int64_t dim, TensorOptions options = {});

}  // namespace lg::nn
