#include <lasergrad/core/error.h>
#include <lasergrad/nn/positional.h>
#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/factory.h>

#include <cmath>
#include <vector>

namespace lg::nn {

PositionalEmbedding::PositionalEmbedding(int64_t max_len, int64_t dim) : max_len(max_len), dim(dim) {
  LG_CHECK(max_len > 0 && dim > 0, "nn::PositionalEmbedding: sizes must be positive, got ",
           max_len, " and ", dim);
  weight = randn({max_len, dim});
  register_parameter("weight", weight);
}

Tensor PositionalEmbedding::forward(const Tensor& x) const { return forward(x, 0); }

Tensor PositionalEmbedding::forward(const Tensor& x, int64_t offset) const {
  LG_CHECK(x.defined() && x.dim() >= 2 && x.size(-1) == dim && offset >= 0 &&
               x.size(-2) <= max_len - offset,
           "nn::PositionalEmbedding: expected input [..., T <= ", max_len - offset, ", ", dim,
           "] at offset ", offset, " (max_len ", max_len, "), got ",
           x.defined() ? x.describe() : std::string("undefined"));
  return x + weight.slice(0, offset, offset + x.size(-2));
}

std::string PositionalEmbedding::extra_repr() const {
  return std::to_string(max_len) + ", " + std::to_string(dim);
}

Tensor sinusoidal_positional_encoding(int64_t length, int64_t dim, TensorOptions options) {
  LG_CHECK(length >= 0 && dim > 0 && dim % 2 == 0,
           "sinusoidal_positional_encoding: needs length >= 0 and an even dim > 0, got ", length,
           " and ", dim);
  std::vector<double> values(static_cast<size_t>(length * dim));
  for (int64_t pos = 0; pos < length; ++pos)
    for (int64_t i = 0; i < dim / 2; ++i) {
      double angle = static_cast<double>(pos) /
                     std::pow(10000.0, 2.0 * static_cast<double>(i) / static_cast<double>(dim));
      values[static_cast<size_t>(pos * dim + 2 * i)] = std::sin(angle);
      values[static_cast<size_t>(pos * dim + 2 * i + 1)] = std::cos(angle);
    }
  TensorOptions as_double = options;
  as_double.dtype = kFloat64;
  return from_vector(values, {length, dim}, as_double).to(options.dtype);
}

}  // namespace lg::nn
