// Affine layers: Linear (y = x Wᵀ + b, weight [out, in] as PyTorch's) and
// Embedding (a lookup table [num, dim]), with PyTorch's default initialisation.
#pragma once
#include <optional>

#include "module.h"

namespace lg::nn {

class Linear : public Module {
 public:
  // weight, bias ~ U(-1/sqrt(in), 1/sqrt(in)) (PyTorch's kaiming_uniform_(a=sqrt(5))).
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) const;  // x [..., in] -> [..., out]
  Tensor operator()(const Tensor& x) const { return forward(x); }
  std::string extra_repr() const override;

  int64_t in_features, out_features;
  Tensor weight;  // [out, in]
  Tensor bias;    // [out], undefined without bias
};

class Embedding : public Module {
 public:
  // weight ~ N(0, 1); the padding_idx row (if any) starts at zero and gets no gradient.
  Embedding(int64_t num_embeddings, int64_t embedding_dim, std::optional<int64_t> padding_idx = {});
  Tensor forward(const Tensor& ids) const;  // int64 ids [...] -> [..., dim]
  Tensor operator()(const Tensor& ids) const { return forward(ids); }
  std::string extra_repr() const override;

  int64_t num_embeddings, embedding_dim;
  std::optional<int64_t> padding_idx;
  Tensor weight;  // [num, dim]
};

}  // namespace lg::nn
