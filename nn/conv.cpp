#include <lasergrad/core/error.h>
#include <lasergrad/nn/conv.h>
#include <lasergrad/nn/init.h>
#include <lasergrad/ops/factory.h>

#include <cmath>
#include <sstream>

namespace lg::nn {

namespace {
// PyTorch's _ConvNd.reset_parameters: kaiming_uniform_(a=sqrt(5)) for the
// weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias.
void init_conv(Module& m, Tensor& weight, Tensor& bias, bool with_bias) {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  m.register_parameter("weight", weight);
  if (with_bias) {
    double bound = 1.0 / std::sqrt(static_cast<double>(init::calculate_fan_in_and_fan_out(weight).first));
    bias = empty({weight.size(0)});
    init::uniform_(bias, -bound, bound);
    m.register_parameter("bias", bias);
  }
}

void check_channels(int64_t in, int64_t out, int64_t groups, const char* layer) {
  LG_CHECK(in > 0 && out > 0 && groups > 0, "nn::", layer,
           ": channels and groups must be positive, got in=", in, ", out=", out, ", groups=", groups);
  LG_CHECK(in % groups == 0 && out % groups == 0, "nn::", layer, ": in_channels ", in,
           " and out_channels ", out, " must be divisible by groups ", groups);
}
}  // namespace

Conv1d::Conv1d(int64_t in, int64_t out, int64_t k, const Conv1dOptions& opts, bool with_bias)
    : in_channels(in), out_channels(out), kernel_size(k), options(opts) {
  check_channels(in, out, opts.groups, "Conv1d");
  LG_CHECK(k > 0, "nn::Conv1d: kernel_size must be positive, got ", k);
  weight = empty({out, in / opts.groups, k});
  init_conv(*this, weight, bias, with_bias);
}

Tensor Conv1d::forward(const Tensor& x) const { return conv1d(x, weight, bias, options); }

std::string Conv1d::extra_repr() const {
  std::ostringstream os;
  os << in_channels << ", " << out_channels << ", kernel_size=" << kernel_size
     << ", stride=" << options.stride << ", padding=" << options.padding;
  if (options.dilation != 1) os << ", dilation=" << options.dilation;
  if (options.groups != 1) os << ", groups=" << options.groups;
  if (!bias.defined()) os << ", bias=false";
  return os.str();
}

Conv2d::Conv2d(int64_t in, int64_t out, std::array<int64_t, 2> k, const Conv2dOptions& opts,
               bool with_bias)
    : in_channels(in), out_channels(out), kernel_size(k), options(opts) {
  check_channels(in, out, opts.groups, "Conv2d");
  LG_CHECK(k[0] > 0 && k[1] > 0, "nn::Conv2d: kernel_size must be positive, got [", k[0], ",",
           k[1], "]");
  weight = empty({out, in / opts.groups, k[0], k[1]});
  init_conv(*this, weight, bias, with_bias);
}

Tensor Conv2d::forward(const Tensor& x) const { return conv2d(x, weight, bias, options); }

std::string Conv2d::extra_repr() const {
  std::ostringstream os;
  auto pair = [&os](std::array<int64_t, 2> v) { os << "(" << v[0] << ", " << v[1] << ")"; };
  os << in_channels << ", " << out_channels << ", kernel_size=";
  pair(kernel_size);
  os << ", stride=";
  pair(options.stride);
  os << ", padding=";
  pair(options.padding);
  if (options.groups != 1) os << ", groups=" << options.groups;
  if (!bias.defined()) os << ", bias=false";
  return os.str();
}

}  // namespace lg::nn
