// Parameter-free layers, so that Sequential numbers its children as PyTorch
// does: Dropout (active in training mode only), ReLU, GELU, SiLU, Tanh.
#pragma once
#include "../ops/activation.h"
#include "module.h"

namespace lg::nn {

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& x) const;  // identity in eval mode
  Tensor operator()(const Tensor& x) const { return forward(x); }
  std::string extra_repr() const override;
  double p;
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) const { return relu(x); }
  Tensor operator()(const Tensor& x) const { return forward(x); }
};

class GELU : public Module {
 public:
  explicit GELU(GeluApproximate approximate = GeluApproximate::None) : approximate(approximate) {}
  Tensor forward(const Tensor& x) const { return gelu(x, approximate); }
  Tensor operator()(const Tensor& x) const { return forward(x); }
  std::string extra_repr() const override;
  GeluApproximate approximate;
};

class SiLU : public Module {
 public:
  Tensor forward(const Tensor& x) const { return silu(x); }
  Tensor operator()(const Tensor& x) const { return forward(x); }
};

class Tanh : public Module {
 public:
  Tensor forward(const Tensor& x) const { return tanh(x); }
  Tensor operator()(const Tensor& x) const { return forward(x); }
};

}  // namespace lg::nn
