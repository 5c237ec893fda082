#include <lasergrad/core/error.h>
#include <lasergrad/core/grad_mode.h>
#include <lasergrad/nn/init.h>
#include <lasergrad/ops/factory.h>

#include <cmath>

namespace lg::nn::init {

std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& t) {
  LG_CHECK(t.defined() && t.dim() >= 2,
           "nn::init: fan in and fan out need a tensor of 2 or more dims, got ",
           t.defined() ? shape_str(t.shape()) : std::string("an undefined tensor"));
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

double calculate_gain(const std::string& nonlinearity, double param) {
  if (nonlinearity == "linear" || nonlinearity == "sigmoid" || nonlinearity.rfind("conv", 0) == 0)
    return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nonlinearity == "selu") return 0.75;
  detail::fail("nn::init::calculate_gain: unknown nonlinearity \"", nonlinearity,
               "\" (linear, conv1d, conv2d, sigmoid, tanh, relu, leaky_relu, selu)");
}

namespace {
void check_float(const Tensor& t, const char* fn) {
  LG_CHECK(t.defined() && is_floating(t.dtype()), "nn::init::", fn,
           ": needs a floating tensor, got ", t.defined() ? t.describe() : "an undefined tensor");
}

int64_t fan(const Tensor& t, FanMode mode) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  return mode == FanMode::FanIn ? fan_in : fan_out;
}
}  // namespace

Tensor& uniform_(Tensor& t, double low, double high) {
  check_float(t, "uniform_");
  LG_CHECK(low <= high, "nn::init::uniform_: low ", low, " > high ", high);
  lg::uniform_(t, low, high);
  return t;
}

Tensor& normal_(Tensor& t, double mean, double std) {
  check_float(t, "normal_");
  LG_CHECK(std >= 0, "nn::init::normal_: std must be >= 0, got ", std);
  lg::normal_(t, mean, std);
  return t;
}

Tensor& constant_(Tensor& t, double value) {
  LG_CHECK(t.defined(), "nn::init::constant_: undefined tensor");
  NoGradGuard no_grad;
  t.fill_(value);
  return t;
}

Tensor& zeros_(Tensor& t) { return constant_(t, 0.0); }
Tensor& ones_(Tensor& t) { return constant_(t, 1.0); }

Tensor& xavier_uniform_(Tensor& t, double gain) {
  if (t.defined() && t.numel() == 0) return t;  // nothing to draw (PyTorch warns)
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  double bound = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return nn::init::uniform_(t, -bound, bound);
}

Tensor& xavier_normal_(Tensor& t, double gain) {
  if (t.defined() && t.numel() == 0) return t;
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  return nn::init::normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)));
}

Tensor& kaiming_uniform_(Tensor& t, double a, FanMode mode, const std::string& nonlinearity) {
  if (t.defined() && t.numel() == 0) return t;
  double bound = calculate_gain(nonlinearity, a) * std::sqrt(3.0 / static_cast<double>(fan(t, mode)));
  return nn::init::uniform_(t, -bound, bound);
}

Tensor& kaiming_normal_(Tensor& t, double a, FanMode mode, const std::string& nonlinearity) {
  if (t.defined() && t.numel() == 0) return t;
  return nn::init::normal_(t, 0.0, calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan(t, mode))));
}

}  // namespace lg::nn::init
