#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/conv.h>
#include <lasergrad/ops/linalg.h>
#include <lasergrad/ops/reduction.h>
#include <lasergrad/ops/view.h>

#include <sstream>
#include <string>

#include "op_support.h"

namespace lg {
using detail::BackwardArgs;

namespace {

using Pair = std::array<int64_t, 2>;

// The last `spatial` entries: "3" for conv1d's {1, 3}, "[3,3]" for conv2d.
std::string pair_str(const Pair& p, int spatial) {
  return spatial == 1 ? std::to_string(p[1]) : shape_str({p[0], p[1]});
}

// A validated window and the output size it gives.
struct Window {
  ConvGeometry g;
  Pair out;
  FoldOptions fold() const {
    return {.dilation = {g.dilation[0], g.dilation[1]},
            .padding = {g.padding[0], g.padding[1]},
            .stride = {g.stride[0], g.stride[1]}};
  }
  Pair kernel() const { return {g.kernel[0], g.kernel[1]}; }
};

// `operands` describes the inputs for the messages ("input float32[...], weight ...").
Window make_window(const char* op, const std::string& operands, const Pair& in, const Pair& kernel,
                   const Pair& stride, const Pair& padding, const Pair& dilation, int spatial) {
  auto all = [](const Pair& p, int64_t min) { return p[0] >= min && p[1] >= min; };
  LG_CHECK(all(kernel, 1), op, ": kernel size ", pair_str(kernel, spatial), " must be positive (",
           operands, ")");
  LG_CHECK(all(stride, 1), op, ": stride ", pair_str(stride, spatial), " must be positive (",
           operands, ")");
  LG_CHECK(all(padding, 0), op, ": padding ", pair_str(padding, spatial), " must be non-negative (",
           operands, ")");
  LG_CHECK(all(dilation, 1), op, ": dilation ", pair_str(dilation, spatial), " must be positive (",
           operands, ")");
  Window w;
  for (int a = 0; a < 2; ++a) {
    w.g.kernel[a] = kernel[a];
    w.g.stride[a] = stride[a];
    w.g.padding[a] = padding[a];
    w.g.dilation[a] = dilation[a];
    int64_t span = in[a] + 2 * padding[a] - dilation[a] * (kernel[a] - 1) - 1;
    w.out[a] = span < 0 ? 0 : span / stride[a] + 1;  // C++ division truncates towards 0
  }
  LG_CHECK(w.out[0] >= 1 && w.out[1] >= 1, op, ": output size ", pair_str(w.out, spatial),
           " is less than 1 (", operands, ", kernel size ", pair_str(kernel, spatial), ", stride ",
           pair_str(stride, spatial), ", padding ", pair_str(padding, spatial), ", dilation ",
           pair_str(dilation, spatial), ")");
  return w;
}

void check_floating(const Tensor& t, const char* op, const char* what) {
  LG_CHECK(is_floating(t.dtype()), op, ": ", what, " must be floating-point, got ", t.describe());
}

// Forward kernels on contiguous, detached operands.
Tensor im2col_raw(const Tensor& x, const Window& w, const char* op) {
  Tensor cols =
      Tensor::empty({x.size(0), x.size(1) * w.g.kernel[0] * w.g.kernel[1], w.out[0] * w.out[1]},
                    x.dtype(), x.device());
  kernel(&KernelTable::im2col, x.device(), x.dtype(), op)(cols, x, w.g);
  return cols;
}

void check_conv(const char* op, int spatial, const Tensor& x, const Tensor& w, const Tensor& b,
                int64_t groups) {
  detail::check_defined(x, op, "input");
  detail::check_defined(w, op, "weight");
  detail::check_same_device(x, w, op);
  check_floating(x, op, "input");
  LG_CHECK(x.dtype() == w.dtype(), op, ": input ", x.describe(), " and weight ", w.describe(),
           " have different dtypes");
  const char* layout = spatial == 1 ? "[N, Cin, L]" : "[N, Cin, H, W]";
  LG_CHECK(x.dim() == spatial + 2, op, ": expected input ", layout, " (", spatial + 2,
           " dims) or unbatched (", spatial + 1, " dims), got ", x.describe());
  LG_CHECK(w.dim() == spatial + 2, op, ": expected weight ",
           spatial == 1 ? "[Cout, Cin/groups, K]" : "[Cout, Cin/groups, KH, KW]", ", got ",
           w.describe());
  LG_CHECK(groups >= 1, op, ": groups must be positive, got ", groups);
  const int64_t cin = x.size(1), cout = w.size(0);
  LG_CHECK(cin % groups == 0, op, ": groups ", groups, " does not divide the ", cin,
           " input channels of ", x.describe());
  LG_CHECK(cout % groups == 0, op, ": groups ", groups, " does not divide the ", cout,
           " output channels of weight ", w.describe());
  LG_CHECK(w.size(1) * groups == cin, op, ": input ", x.describe(), " has ", cin,
           " channels but weight ", w.describe(), " expects ", w.size(1) * groups, " (", w.size(1),
           " per group x ", groups, " groups)");
  if (b.defined()) {
    detail::check_same_device(x, b, op);
    LG_CHECK(b.dtype() == x.dtype(), op, ": bias ", b.describe(), " and input ", x.describe(),
             " have different dtypes");
    LG_CHECK(b.dim() == 1 && b.size(0) == cout, op, ": bias ", b.describe(), " does not match the ",
             cout, " output channels of weight ", w.describe());
  }
}

// x [N,Cin,H,W], w [Cout,Cin/G,KH,KW], b [Cout] or undefined, all validated.
Tensor conv_nd(const char* op, const Tensor& x, const Tensor& w, const Tensor& b, const Window& win,
               ConvAlgorithm algorithm) {
  const int64_t N = x.size(0), Cin = x.size(1), H = x.size(2), W = x.size(3), Cout = w.size(0);
  const int64_t G = win.g.groups, L = win.out[0] * win.out[1];
  const int64_t cgk = Cin / G * win.g.kernel[0] * win.g.kernel[1], coutg = Cout / G;
  // Measured by `lg-bench conv --threads 1`: in a depthwise convolution each
  // GEMM would be a 1-row product with nothing to reuse, and the direct loop
  // avoids the K-times larger column buffer (forward 6-80x faster). With one input
  // channel but many outputs (Cin == 1, Cout == 64) the GEMM wins again (5x).
  const bool direct = algorithm == ConvAlgorithm::Direct ||
                      (algorithm == ConvAlgorithm::Auto && Cin == G && Cout == G);
  Tensor out;
  {
    NoGradGuard no_grad;
    Tensor xd = x.detach().contiguous(), wd = w.detach().contiguous();
    if (direct) {
      out = Tensor::empty({N, Cout, win.out[0], win.out[1]}, x.dtype(), x.device());
      kernel(&KernelTable::conv2d_direct, x.device(), x.dtype(), op)(out, xd, wd, win.g);
    } else {
      Tensor cols = im2col_raw(xd, win, op);
      out = matmul(wd.view({G, coutg, cgk}), cols.view({N, G, cgk, L}))
                .view({N, Cout, win.out[0], win.out[1]});
    }
    if (b.defined()) out.add_(b.detach().view({1, Cout, 1, 1}));
  }
  // The input gradient needs only the weight and vice versa.
  Tensor keep_x = w.requires_grad() ? x : Tensor();
  Tensor keep_w = x.requires_grad() ? w : Tensor();
  // In differentiable ops (im2col, col2im, matmul), so double backward works.
  detail::BackwardFn composite = [win, N, Cin, H, W, G, L, cgk, coutg, mx = detail::meta(x),
                                  mw = detail::meta(w)](const BackwardArgs& c) {
    Tensor g4 = c.grad.reshape({N, G, coutg, L});
    Tensor gx, gw, gb;
    if (c.needs(0)) {
      Tensor wt = c.saved("weight").reshape({G, coutg, cgk}).transpose(-1, -2);
      Tensor gcols = matmul(wt, g4).reshape({N, Cin * win.g.kernel[0] * win.g.kernel[1], L});
      gx = detail::grad_for(col2im(gcols, {H, W}, win.kernel(), win.fold()), mx);
    }
    if (c.needs(1)) {
      Tensor cols = im2col(c.saved("input"), win.kernel(), win.fold()).reshape({N, G, cgk, L});
      gw = detail::grad_for(sum(matmul(g4, cols.transpose(-1, -2)), 0).reshape(mw.shape), mw);
    }
    if (c.needs(2)) gb = sum(c.grad, std::vector<int64_t>{0, 2, 3});
    return std::vector<Tensor>{gx, gw, gb};
  };
  if (!direct)
    return detail::record(op, out, {x, w, b}, {{"input", keep_x}, {"weight", keep_w}}, composite);
  // The direct path's backward kernels skip the im2col buffer as its forward does.
  detail::BackwardFn fused = [op, win, mx = detail::meta(x),
                              mw = detail::meta(w)](const BackwardArgs& c) {
    Tensor gy = c.grad.detach().contiguous();
    Device device = gy.device();
    Tensor gx, gw, gb;
    if (c.needs(0)) {
      gx = Tensor::empty(mx.shape, mx.dtype, device);
      kernel(&KernelTable::conv2d_direct_backward_input, device, mx.dtype, op)(
          gx, gy, c.saved("weight").detach().contiguous(), win.g);
    }
    if (c.needs(1)) {
      gw = Tensor::empty(mw.shape, mw.dtype, device);
      kernel(&KernelTable::conv2d_direct_backward_weight, device, mw.dtype, op)(
          gw, gy, c.saved("input").detach().contiguous(), win.g);
    }
    if (c.needs(2)) gb = sum(gy, std::vector<int64_t>{0, 2, 3});
    return std::vector<Tensor>{gx, gw, gb};
  };
  return detail::record(op, out, {x, w, b}, {{"input", keep_x}, {"weight", keep_w}}, fused,
                        {.fused_backward = true, .composite = composite});
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& options) {
  detail::check_defined(x, "conv2d", "input");
  if (x.dim() == 3) return conv2d(x.unsqueeze(0), weight, bias, options).squeeze(0);
  check_conv("conv2d", 2, x, weight, bias, options.groups);
  std::ostringstream operands;
  operands << "input " << x.describe() << ", weight " << weight.describe();
  Window win = make_window("conv2d", operands.str(), {x.size(2), x.size(3)},
                           {weight.size(2), weight.size(3)}, options.stride, options.padding,
                           options.dilation, 2);
  win.g.groups = options.groups;
  return conv_nd("conv2d", x, weight, bias, win, options.algorithm);
}

Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv1dOptions& options) {
  detail::check_defined(x, "conv1d", "input");
  if (x.dim() == 2) return conv1d(x.unsqueeze(0), weight, bias, options).squeeze(0);
  check_conv("conv1d", 1, x, weight, bias, options.groups);
  std::ostringstream operands;
  operands << "input " << x.describe() << ", weight " << weight.describe();
  Window win = make_window("conv1d", operands.str(), {1, x.size(2)}, {1, weight.size(2)},
                           {1, options.stride}, {0, options.padding}, {1, options.dilation}, 1);
  win.g.groups = options.groups;
  // A 1-d convolution is the 2-d one over a height of 1.
  return conv_nd("conv1d", x.unsqueeze(2), weight.unsqueeze(2), bias, win, options.algorithm)
      .squeeze(2);
}

Tensor im2col(const Tensor& x, std::array<int64_t, 2> kernel_size, const FoldOptions& options) {
  detail::check_defined(x, "im2col");
  LG_CHECK(x.dim() == 4, "im2col: expected input [N, C, H, W], got ", x.describe());
  check_floating(x, "im2col", "input");
  Pair in = {x.size(2), x.size(3)};
  Window win = make_window("im2col", "input " + x.describe(), in, kernel_size, options.stride,
                           options.padding, options.dilation, 2);
  Tensor out = im2col_raw(x.detach().contiguous(), win, "im2col");
  return detail::record("im2col", out, {x}, {}, [in, kernel_size, options](const BackwardArgs& c) {
    return std::vector<Tensor>{col2im(c.grad, in, kernel_size, options)};
  });
}

Tensor col2im(const Tensor& cols, std::array<int64_t, 2> output_size,
              std::array<int64_t, 2> kernel_size, const FoldOptions& options) {
  detail::check_defined(cols, "col2im");
  LG_CHECK(cols.dim() == 3, "col2im: expected input [N, C*KH*KW, L], got ", cols.describe());
  check_floating(cols, "col2im", "input");
  LG_CHECK(output_size[0] >= 1 && output_size[1] >= 1, "col2im: output size ",
           shape_str({output_size[0], output_size[1]}), " must be positive (input ",
           cols.describe(), ")");
  Window win = make_window("col2im", "input " + cols.describe(), output_size, kernel_size,
                           options.stride, options.padding, options.dilation, 2);
  const int64_t k = kernel_size[0] * kernel_size[1], L = win.out[0] * win.out[1];
  LG_CHECK(cols.size(1) % k == 0, "col2im: dimension 1 of ", cols.describe(),
           " is not a multiple of the kernel's ", k, " elements (kernel size ",
           shape_str({kernel_size[0], kernel_size[1]}), ")");
  LG_CHECK(cols.size(2) == L, "col2im: ", cols.describe(), " has ", cols.size(2),
           " columns but output size ", shape_str({output_size[0], output_size[1]}), " gives ", L,
           " windows (", win.out[0], "x", win.out[1], ")");
  Tensor out = Tensor::empty({cols.size(0), cols.size(1) / k, output_size[0], output_size[1]},
                             cols.dtype(), cols.device());
  Tensor src = cols.detach().contiguous();
  kernel(&KernelTable::col2im, cols.device(), cols.dtype(), "col2im")(out, src, win.g);
  return detail::record("col2im", out, {cols}, {}, [kernel_size, options](const BackwardArgs& c) {
    return std::vector<Tensor>{im2col(c.grad, kernel_size, options)};
  });
}

}  // namespace lg
