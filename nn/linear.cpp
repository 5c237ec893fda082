#include <lasergrad/core/error.h>
#include <lasergrad/nn/init.h>
#include <lasergrad/nn/linear.h>
#include <lasergrad/ops/factory.h>
#include <lasergrad/ops/indexing.h>
#include <lasergrad/ops/linalg.h>

#include <cmath>

namespace lg::nn {

Linear::Linear(int64_t in, int64_t out, bool with_bias) : in_features(in), out_features(out) {
  LG_CHECK(in > 0 && out > 0, "nn::Linear: in_features and out_features must be positive, got ",
           in, " and ", out);
  weight = empty({out, in});
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  register_parameter("weight", weight);
  if (with_bias) {
    bias = empty({out});
    double bound = 1.0 / std::sqrt(static_cast<double>(in));
    init::uniform_(bias, -bound, bound);
    register_parameter("bias", bias);
  }
}

Tensor Linear::forward(const Tensor& x) const {
  LG_CHECK(x.defined() && x.dim() >= 1 && x.size(-1) == in_features, "nn::Linear: input ",
           x.defined() ? x.describe() : std::string("undefined"), " does not end in in_features=",
           in_features);
  return linear(x, weight, bias);
}

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_features) + ", out_features=" +
         std::to_string(out_features) + ", bias=" + (bias.defined() ? "true" : "false");
}

Embedding::Embedding(int64_t num, int64_t dim, std::optional<int64_t> pad)
    : num_embeddings(num), embedding_dim(dim), padding_idx(pad) {
  LG_CHECK(num > 0 && dim > 0, "nn::Embedding: sizes must be positive, got ", num, " and ", dim);
  if (pad) {
    LG_CHECK(*pad >= -num && *pad < num, "nn::Embedding: padding_idx ", *pad,
             " out of range for ", num, " embeddings");
    if (*pad < 0) padding_idx = *pad + num;
  }
  weight = randn({num, dim});
  if (padding_idx) weight.select(0, *padding_idx).zero_();
  register_parameter("weight", weight);
}

Tensor Embedding::forward(const Tensor& ids) const { return embedding(ids, weight, padding_idx); }

std::string Embedding::extra_repr() const {
  return std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim) +
         (padding_idx ? ", padding_idx=" + std::to_string(*padding_idx) : std::string());
}

}  // namespace lg::nn
