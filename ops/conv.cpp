#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/conv.h>
#include <lasergrad/ops/linalg.h>
#include <lasergrad/ops/reduction.h>
#include <lasergrad/ops/view.h>

#include <algorithm>
#include <atomic>
#include <sstream>
#include <string>

#include "conv_chunks.h"
#include "op_support.h"

namespace lg {

namespace detail {
namespace {
std::atomic<int64_t> g_conv_chunk_bytes{int64_t{64} << 20};
}
int64_t conv_chunk_bytes() { return g_conv_chunk_bytes.load(std::memory_order_relaxed); }
int64_t set_conv_chunk_bytes(int64_t bytes) {
  LG_CHECK(bytes >= 0, "set_conv_chunk_bytes: bytes must be non-negative, got ", bytes);
  return g_conv_chunk_bytes.exchange(bytes, std::memory_order_relaxed);
}
}  // namespace detail

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

// The im2col + GEMM path, chunk by chunk of samples: each chunk's columns go
// into one reused buffer of at most 64 MiB instead of one for the whole batch
// (250 MB for lg-speech's second subsampling conv: there 4 samples, 31 MB,
// which the GEMMs then read from the last-level cache), and without groups a
// chunk's products are one batched matmul (the weight broadcast), which the
// CPU backend spreads over its threads sample by sample. Operands are
// contiguous and detached; the kernels (im2col, col2im, matmul) see views of
// one chunk or sample.
class Im2colGemm {
 public:
  Im2colGemm(const char* op, const Window& win, const Shape& x_shape, int64_t cout, DType dtype,
             Device device)
      : op_(op), win_(win), dtype_(dtype), device_(device) {
    N_ = x_shape[0], Cin_ = x_shape[1], H_ = x_shape[2], W_ = x_shape[3], Cout_ = cout;
    G_ = win.g.groups, L_ = win.out[0] * win.out[1];
    ck_ = Cin_ * win.g.kernel[0] * win.g.kernel[1], cgk_ = ck_ / G_, coutg_ = Cout_ / G_;
    const int64_t sample_bytes = (ck_ + Cout_) * L_ * static_cast<int64_t>(element_size(dtype));
    chunk_ = std::max<int64_t>(1, std::min(N_, detail::conv_chunk_bytes() / sample_bytes));
    if (chunk_ > 4) chunk_ -= chunk_ % 4;  // batches that split evenly over 1, 2 or 4 threads
  }

  // out [N,Cout,OH,OW] = w [Cout,Cin/G,KH,KW] * x (+ bias [Cout], added chunk by chunk).
  Tensor forward(const Tensor& x, const Tensor& w, const Tensor& bias) const {
    Tensor out = Tensor::empty({N_, Cout_, win_.out[0], win_.out[1]}, dtype_, device_);
    Tensor cols = Tensor::empty({chunk_, ck_, L_}, dtype_, device_);
    auto im2col_k = kernel(&KernelTable::im2col, device_, dtype_, op_);
    Tensor wg = view(w, {G_, coutg_, cgk_}, {coutg_ * cgk_, cgk_, 1});
    Tensor b = bias.defined() ? bias.view({1, Cout_, 1}) : Tensor();
    for (int64_t n0 = 0; n0 < N_; n0 += chunk_) {
      const int64_t n = std::min(chunk_, N_ - n0);
      im2col_k(view(cols, {n, ck_, L_}), samples(x, n0, n, Cin_ * H_ * W_, {Cin_, H_, W_}), win_.g);
      if (G_ == 1) {
        matmul(view(out, {n, Cout_, L_}, {}, n0 * Cout_ * L_), broadcast_weight(w, n, false),
               view(cols, {n, ck_, L_}));
      } else {
        for (int64_t s = 0; s < n; ++s)
          matmul(sample_groups(out, n0 + s, coutg_, L_), wg, buffer_groups(cols, s));
      }
      if (b.defined()) samples(out, n0, n, Cout_ * L_, {Cout_, L_}).add_(b);
    }
    return out;
  }

  // The input gradient [N,Cin,H,W] = col2im(wᵀ gy) chunk by chunk.
  Tensor grad_input(const Tensor& gy, const Tensor& w) const {
    Tensor gx = Tensor::empty({N_, Cin_, H_, W_}, dtype_, device_);
    Tensor gcols = Tensor::empty({chunk_, ck_, L_}, dtype_, device_);
    auto col2im_k = kernel(&KernelTable::col2im, device_, dtype_, op_);
    Tensor wt = view(w, {G_, cgk_, coutg_}, {coutg_ * cgk_, 1, cgk_});
    for (int64_t n0 = 0; n0 < N_; n0 += chunk_) {
      const int64_t n = std::min(chunk_, N_ - n0);
      if (G_ == 1) {
        matmul(view(gcols, {n, ck_, L_}), broadcast_weight(w, n, true),
               view(gy, {n, Cout_, L_}, {}, n0 * Cout_ * L_));
      } else {
        for (int64_t s = 0; s < n; ++s)
          matmul(buffer_groups(gcols, s), wt, sample_groups(gy, n0 + s, coutg_, L_));
      }
      col2im_k(samples(gx, n0, n, Cin_ * H_ * W_, {Cin_, H_, W_}), view(gcols, {n, ck_, L_}),
               win_.g);
    }
    return gx;
  }

  // The weight gradient [G, Cout/G, Cin/G*KH*KW] = sum over samples of gy colsᵀ.
  Tensor grad_weight(const Tensor& gy, const Tensor& x) const {
    Tensor gw = Tensor::empty({G_, coutg_, cgk_}, dtype_, device_);
    gw.zero_();
    if (N_ == 0) return gw;
    // One product per sample into `parts`, summed into gw batch by batch.
    const int64_t part_elems = G_ * coutg_ * cgk_;
    const int64_t batch = std::clamp<int64_t>(
        detail::conv_chunk_bytes() / (part_elems * static_cast<int64_t>(element_size(dtype_))), 1,
        G_ == 1 ? chunk_ : 1);
    Tensor parts = Tensor::empty({batch, G_, coutg_, cgk_}, dtype_, device_);
    Tensor cols = Tensor::empty({chunk_, ck_, L_}, dtype_, device_);
    auto im2col_k = kernel(&KernelTable::im2col, device_, dtype_, op_);
    for (int64_t n0 = 0; n0 < N_; n0 += chunk_) {
      const int64_t n = std::min(chunk_, N_ - n0);
      im2col_k(view(cols, {n, ck_, L_}), samples(x, n0, n, Cin_ * H_ * W_, {Cin_, H_, W_}), win_.g);
      for (int64_t s0 = 0; s0 < n; s0 += batch) {
        const int64_t m = std::min(batch, n - s0);
        // [m*G, L, cgk]: sample s0.. of the buffer, transposed (G is 1 when m > 1).
        Tensor cols_t = view(cols, {m * G_, L_, cgk_}, {cgk_ * L_, 1, L_}, s0 * ck_ * L_);
        matmul(view(parts, {m * G_, coutg_, cgk_}),
               view(gy, {m * G_, coutg_, L_}, {}, (n0 + s0) * Cout_ * L_), cols_t);
        gw.add_(sum(view(parts, {m, G_, coutg_, cgk_}), std::vector<int64_t>{0}));
      }
    }
    return gw;
  }

 private:
  // A view of t's storage (no autograd), contiguous unless strides are given.
  static Tensor view(const Tensor& t, const Shape& shape, Shape strides = {}, int64_t offset = 0) {
    if (strides.empty()) strides = contiguous_strides(shape);
    return make_view(t, shape, std::move(strides), t.storage_offset() + offset);
  }
  // Samples [n0, n0 + n) of a contiguous batch with `per` elements per sample.
  static Tensor samples(const Tensor& t, int64_t n0, int64_t n, int64_t per, Shape rest) {
    rest.insert(rest.begin(), n);
    return view(t, rest, {}, n0 * per);
  }
  // Sample n of a contiguous [N, G*rows*cols] tensor as G matrices [rows, cols].
  Tensor sample_groups(const Tensor& t, int64_t n, int64_t rows, int64_t cols) const {
    return view(t, {G_, rows, cols}, {}, n * G_ * rows * cols);
  }
  // Sample s of a column buffer as G matrices [Cin/G*KH*KW, L].
  Tensor buffer_groups(const Tensor& cols, int64_t s) const {
    return view(cols, {G_, cgk_, L_}, {}, s * ck_ * L_);
  }
  // The weight [Cout, Cin*KH*KW] (or its transpose) as a batch of n, stride 0
  // (G is 1): the backend spreads one batched product over its threads.
  Tensor broadcast_weight(const Tensor& w, int64_t n, bool transposed) const {
    return transposed ? view(w, {n, ck_, Cout_}, {0, 1, ck_}) : view(w, {n, Cout_, ck_}, {0, ck_, 1});
  }
  void matmul(const Tensor& out, const Tensor& a, const Tensor& b) const {
    kernel(&KernelTable::matmul, device_, dtype_, op_)(out, a, b);
  }

  const char* op_;
  Window win_;
  DType dtype_;
  Device device_;
  int64_t N_, Cin_, H_, W_, Cout_, G_, L_, ck_, cgk_, coutg_, chunk_;
};

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
      if (b.defined()) out.add_(b.detach().view({1, Cout, 1, 1}));
    } else {
      Tensor bd = b.defined() ? b.detach().contiguous() : Tensor();
      out = Im2colGemm(op, win, x.shape(), Cout, x.dtype(), x.device()).forward(xd, wd, bd);
    }
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
  // The fused backwards skip the whole-batch column buffers as their forwards do.
  detail::BackwardFn fused = [op, win, direct, mx = detail::meta(x),
                              mw = detail::meta(w)](const BackwardArgs& c) {
    NoGradGuard no_grad;
    Tensor gy = c.grad.detach().contiguous();
    Device device = gy.device();
    Tensor gx, gw, gb;
    if (!direct) {
      Im2colGemm gemm(op, win, mx.shape, mw.shape[0], gy.dtype(), device);
      if (c.needs(0)) gx = gemm.grad_input(gy, c.saved("weight").detach().contiguous());
      if (c.needs(1))
        gw = gemm.grad_weight(gy, c.saved("input").detach().contiguous()).view(mw.shape);
      if (c.needs(2)) gb = sum(gy, std::vector<int64_t>{0, 2, 3});
      return std::vector<Tensor>{gx, gw, gb};
    }
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
