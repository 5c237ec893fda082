#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/conv.h>
#include <lasergrad/ops/factory.h>
#include <lasergrad/ops/pool.h>
#include <lasergrad/ops/reduction.h>
#include <lasergrad/ops/view.h>

#include <cmath>
#include <string>

#include "op_support.h"

namespace lg {

namespace {

using Pair = std::array<int64_t, 2>;

std::string pair_str(const Pair& p, int spatial) {
  return spatial == 1 ? std::to_string(p[1]) : shape_str({p[0], p[1]});
}

// A pooling problem on planes: x viewed as [P, 1, H, W] (P = N*C), with the
// shape the result takes back. Validates like PyTorch, naming `op`.
struct Pool {
  Tensor planes;
  Shape out_shape;
  Pair kernel, stride, padding, dilation;
};

Pool make_pool(const char* op, const Tensor& x, int spatial, Pair kernel, Pair stride, Pair padding,
               Pair dilation) {
  detail::check_defined(x, op);
  LG_CHECK(is_floating(x.dtype()), op, ": input must be floating-point, got ", x.describe());
  LG_CHECK(x.dim() == spatial + 1 || x.dim() == spatial + 2, op, ": expected input ",
           spatial == 1 ? "[N, C, L] or [C, L]" : "[N, C, H, W] or [C, H, W]", ", got ",
           x.describe());
  for (int a = 0; a < 2; ++a)
    if (stride[a] == 0) stride[a] = kernel[a];
  auto all = [](const Pair& p, int64_t min) { return p[0] >= min && p[1] >= min; };
  const std::string in = " (input " + x.describe() + ")";
  LG_CHECK(all(kernel, 1), op, ": kernel size ", pair_str(kernel, spatial), " must be positive",
           in);
  LG_CHECK(all(stride, 1), op, ": stride ", pair_str(stride, spatial), " must be positive", in);
  LG_CHECK(all(dilation, 1), op, ": dilation ", pair_str(dilation, spatial), " must be positive",
           in);
  Pair out{};
  const int64_t H = spatial == 1 ? 1 : x.size(-2), W = x.size(-1);
  for (int a = 0; a < 2; ++a) {
    int64_t extent = dilation[a] * (kernel[a] - 1) + 1;
    LG_CHECK(padding[a] >= 0 && 2 * padding[a] <= extent, op, ": padding ",
             pair_str(padding, spatial), " must be between 0 and half the kernel size ",
             pair_str(kernel, spatial), in);
    int64_t span = (a == 0 ? H : W) + 2 * padding[a] - extent;
    out[a] = span < 0 ? 0 : span / stride[a] + 1;
  }
  LG_CHECK(all(out, 1), op, ": output size ", pair_str(out, spatial), " is less than 1 (input ",
           x.describe(), ", kernel size ", pair_str(kernel, spatial), ", stride ",
           pair_str(stride, spatial), ", padding ", pair_str(padding, spatial), ")");
  Shape out_shape(x.shape().begin(), x.shape().end() - spatial);
  if (spatial == 2) out_shape.push_back(out[0]);
  out_shape.push_back(out[1]);
  Tensor planes = x.reshape({-1, 1, H, W});
  return {planes, out_shape, kernel, stride, padding, dilation};
}

// Pads dim `d` of t on both sides with `n` copies of `value`.
Tensor pad_with(const Tensor& t, int64_t d, int64_t n, double value) {
  if (n == 0) return t;
  Shape s = t.shape();
  s[d] = n;
  Tensor edge = full(s, value, {.dtype = t.dtype(), .device = t.device()});
  return cat({edge, t, edge}, d);
}

// The max over each window of the -inf padded planes, through im2col.
Tensor max_pool(const Pool& p) {
  Tensor padded =
      pad_with(pad_with(p.planes, 2, p.padding[0], -INFINITY), 3, p.padding[1], -INFINITY);
  Tensor cols = im2col(padded, p.kernel, {.dilation = p.dilation, .stride = p.stride});
  return max(cols, 1).reshape(p.out_shape);
}

// A depthwise convolution with constant weights 1/k over zero-padded planes;
// without count_include_pad, divided by the fraction of each window inside.
Tensor avg_pool(const Pool& p, bool count_include_pad) {
  const Tensor& x = p.planes;
  Tensor w = full({1, 1, p.kernel[0], p.kernel[1]}, 1.0 / (p.kernel[0] * p.kernel[1]),
                  {.dtype = x.dtype(), .device = x.device()});
  Conv2dOptions o{.stride = p.stride, .padding = p.padding};
  Tensor y = conv2d(x, w, {}, o);
  if (!count_include_pad && (p.padding[0] > 0 || p.padding[1] > 0)) {
    Tensor inside = ones({1, 1, x.size(2), x.size(3)}, {.dtype = x.dtype(), .device = x.device()});
    y = y / conv2d(inside, w, {}, o);
  }
  return y.reshape(p.out_shape);
}

}  // namespace

Tensor max_pool1d(const Tensor& x, int64_t kernel_size, const MaxPool1dOptions& options) {
  return max_pool(make_pool("max_pool1d", x, 1, {1, kernel_size}, {1, options.stride},
                            {0, options.padding}, {1, options.dilation}));
}

Tensor max_pool2d(const Tensor& x, std::array<int64_t, 2> kernel_size,
                  const MaxPool2dOptions& options) {
  return max_pool(make_pool("max_pool2d", x, 2, kernel_size, options.stride, options.padding,
                            options.dilation));
}

Tensor avg_pool1d(const Tensor& x, int64_t kernel_size, const AvgPool1dOptions& options) {
  return avg_pool(make_pool("avg_pool1d", x, 1, {1, kernel_size}, {1, options.stride},
                            {0, options.padding}, {1, 1}),
                  options.count_include_pad);
}

Tensor avg_pool2d(const Tensor& x, std::array<int64_t, 2> kernel_size,
                  const AvgPool2dOptions& options) {
  return avg_pool(
      make_pool("avg_pool2d", x, 2, kernel_size, options.stride, options.padding, {1, 1}),
      options.count_include_pad);
}

}  // namespace lg
