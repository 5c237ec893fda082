// Normalisation layers: LayerNorm, RMSNorm (over trailing dims) and
// BatchNorm1d (per channel, with running statistics), PyTorch's parameter
// and buffer names.
#pragma once
#include <optional>

#include "module.h"

namespace lg::nn {

class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     bool bias = true);
  explicit LayerNorm(int64_t dim, double eps = 1e-5, bool elementwise_affine = true,
                     bool bias = true)
      : LayerNorm(Shape{dim}, eps, elementwise_affine, bias) {}
  Tensor forward(const Tensor& x) const;
  Tensor operator()(const Tensor& x) const { return forward(x); }
  std::string extra_repr() const override;

  Shape normalized_shape;
  double eps;
  Tensor weight, bias;  // ones and zeros; undefined without affine / bias
};

class RMSNorm : public Module {
 public:
  // eps defaults to the input dtype's machine epsilon, as torch.nn.RMSNorm.
  explicit RMSNorm(Shape normalized_shape, std::optional<double> eps = {},
                   bool elementwise_affine = true);
  explicit RMSNorm(int64_t dim, std::optional<double> eps = {}, bool elementwise_affine = true)
      : RMSNorm(Shape{dim}, eps, elementwise_affine) {}
  Tensor forward(const Tensor& x) const;
  Tensor operator()(const Tensor& x) const { return forward(x); }
  std::string extra_repr() const override;

  Shape normalized_shape;
  std::optional<double> eps;
  Tensor weight;  // ones; undefined without affine
};

class BatchNorm1d : public Module {
 public:
  // x [N, C] or [N, C, L]. Training normalises with the batch statistics and
  // updates running_mean / running_var (momentum) and num_batches_tracked.
  explicit BatchNorm1d(int64_t num_features, double eps = 1e-5, double momentum = 0.1,
                       bool affine = true, bool track_running_stats = true);
  Tensor forward(const Tensor& x);
  Tensor operator()(const Tensor& x) { return forward(x); }
  std::string extra_repr() const override;

  int64_t num_features;
  double eps, momentum;
  Tensor weight, bias;               // [C], undefined without affine
  Tensor running_mean, running_var;  // [C] buffers, undefined without tracking
  Tensor num_batches_tracked;        // int64 0-d buffer
};

}  // namespace lg::nn
