#include <lasergrad/core/error.h>
#include <lasergrad/nn/activation.h>
#include <lasergrad/ops/dropout.h>

namespace lg::nn {

Dropout::Dropout(double p) : p(p) {
  LG_CHECK(p >= 0.0 && p <= 1.0, "nn::Dropout: p must lie in [0, 1], got ", p);
}

Tensor Dropout::forward(const Tensor& x) const { return dropout(x, p, is_training()); }

std::string Dropout::extra_repr() const { return "p=" + format_number(p); }

std::string GELU::extra_repr() const {
  return approximate == GeluApproximate::Tanh ? "approximate='tanh'" : "";
}

}  // namespace lg::nn
