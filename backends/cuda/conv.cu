// CUDA convolution kernels: im2col and its adjoint col2im (the GEMM path) and
// the direct grouped convolution with its two backward kernels, with the
// semantics of backends/cpu/conv.cpp. Every adjoint gathers (a thread per
// element it writes) instead of scattering with atomics; col2im, the direct
// convolution and its input gradient add each element's terms in the CPU's
// order, so they give the CPU's bits. The weight gradient is one dot product
// per weight element, summed by a group of threads (another order).
#include <cstdint>

#include "group_reduce.cuh"

namespace lg::cuda {
namespace {

// The sizes of one convolution: x [N,Cin,H,W], out [N,Cout,OH,OW], w [Cout,Cin/groups,KH,KW].
struct ConvDims {
  int64_t N, Cin, H, W, Cout, OH, OW;
  int64_t KH, KW, sh, sw, ph, pw, dh, dw;
  int64_t cin_g, cout_g;
};

ConvDims conv_dims(const Shape& x, int64_t Cout, const ConvGeometry& g) {
  auto out_size = [&](int a) {
    return (x[2 + a] + 2 * g.padding[a] - g.dilation[a] * (g.kernel[a] - 1) - 1) / g.stride[a] + 1;
  };
  return {.N = x[0],
          .Cin = x[1],
          .H = x[2],
          .W = x[3],
          .Cout = Cout,
          .OH = out_size(0),
          .OW = out_size(1),
          .KH = g.kernel[0],
          .KW = g.kernel[1],
          .sh = g.stride[0],
          .sw = g.stride[1],
          .ph = g.padding[0],
          .pw = g.padding[1],
          .dh = g.dilation[0],
          .dw = g.dilation[1],
          .cin_g = x[1] / g.groups,
          .cout_g = Cout / g.groups};
}

void check_conv_operand(const char* op, const Tensor& t, const Shape& shape, DType dtype) {
  check_operand(op, t, shape, dtype);
  LG_CHECK(t.is_contiguous(), op, ": CUDA kernel expected contiguous operands, got ", t.describe());
}

// Runs f(i) for i < n (contiguous operands: the flat index is the offset).
template <typename F>
void launch_flat(const char* op, int64_t n, const F& f) {
  const Shape shape{n}, strides{1};
  launch<1>(op, shape, {&strides}, f);
}

// The output index o along an axis whose tap at offset k*dilation reads input
// position i (i = o*stride + k*dilation - padding), or -1 if there is none.
__device__ inline int64_t source_of(int64_t i, int64_t k, int64_t stride, int64_t padding,
                                    int64_t dilation, int64_t out_size) {
  const int64_t at = i + padding - k * dilation;
  if (at < 0 || at % stride != 0) return -1;
  const int64_t o = at / stride;
  return o < out_size ? o : -1;
}

// cols [N, C*KH*KW, OH*OW] element i: x at its window position, 0 in the padding.
template <typename T>
struct Im2colFn {
  T* cols;
  const T* x;
  ConvDims d;
  __device__ void operator()(int64_t i, const int64_t*) const {
    const int64_t ow = i % d.OW, oh = i / d.OW % d.OH, r = i / (d.OW * d.OH);
    const int64_t kw = r % d.KW, kh = r / d.KW % d.KH, nc = r / (d.KW * d.KH);
    const int64_t h = oh * d.sh + kh * d.dh - d.ph, w = ow * d.sw + kw * d.dw - d.pw;
    cols[i] = h >= 0 && h < d.H && w >= 0 && w < d.W ? x[(nc * d.H + h) * d.W + w] : T(0);
  }
};

// x element i = (n*C + c, h, w): the sum over the taps that read it, in the CPU's (kh, kw) order.
template <typename T>
struct Col2imFn {
  T* x;
  const T* cols;
  ConvDims d;
  __device__ void operator()(int64_t i, const int64_t*) const {
    const int64_t w = i % d.W, h = i / d.W % d.H, nc = i / (d.W * d.H);
    T acc = 0;
    for (int64_t kh = 0; kh < d.KH; ++kh) {
      const int64_t oh = source_of(h, kh, d.sh, d.ph, d.dh, d.OH);
      if (oh < 0) continue;
      for (int64_t kw = 0; kw < d.KW; ++kw) {
        const int64_t ow = source_of(w, kw, d.sw, d.pw, d.dw, d.OW);
        if (ow >= 0) acc += cols[((nc * d.KH + kh) * d.KW + kw) * d.OH * d.OW + oh * d.OW + ow];
      }
    }
    x[i] = acc;
  }
};

// out element i = (n, co, oh, ow): the sum over (ci, kh, kw) of w * x, in the CPU's order.
template <typename T>
struct ConvDirectFn {
  T* out;
  const T* x;
  const T* w;
  ConvDims d;
  __device__ void operator()(int64_t i, const int64_t*) const {
    const int64_t ow = i % d.OW, oh = i / d.OW % d.OH, co = i / (d.OW * d.OH) % d.Cout;
    const int64_t n = i / (d.OW * d.OH * d.Cout), grp = co / d.cout_g;
    T acc = 0;
    for (int64_t ci = 0; ci < d.cin_g; ++ci) {
      const T* plane = x + (n * d.Cin + grp * d.cin_g + ci) * d.H * d.W;
      const T* wk = w + (co * d.cin_g + ci) * d.KH * d.KW;
      for (int64_t kh = 0; kh < d.KH; ++kh) {
        const int64_t h = oh * d.sh + kh * d.dh - d.ph;
        if (h < 0 || h >= d.H) continue;
        for (int64_t kw = 0; kw < d.KW; ++kw) {
          const int64_t wc = ow * d.sw + kw * d.dw - d.pw;
          if (wc >= 0 && wc < d.W) acc += wk[kh * d.KW + kw] * plane[h * d.W + wc];
        }
      }
    }
    out[i] = acc;
  }
};

// grad_x element i = (n, ci, h, w): the sum over its group's (co, kh, kw) of
// w * grad_out at the output that tap feeds, in the CPU's order.
template <typename T>
struct ConvBackwardInputFn {
  T* gx;
  const T* gy;
  const T* w;
  ConvDims d;
  __device__ void operator()(int64_t i, const int64_t*) const {
    const int64_t wc = i % d.W, h = i / d.W % d.H, ci = i / (d.W * d.H) % d.Cin;
    const int64_t n = i / (d.W * d.H * d.Cin), grp = ci / d.cin_g, local = ci % d.cin_g;
    T acc = 0;
    for (int64_t co = grp * d.cout_g; co < (grp + 1) * d.cout_g; ++co) {
      const T* gyp = gy + (n * d.Cout + co) * d.OH * d.OW;
      const T* wk = w + (co * d.cin_g + local) * d.KH * d.KW;
      for (int64_t kh = 0; kh < d.KH; ++kh) {
        const int64_t oh = source_of(h, kh, d.sh, d.ph, d.dh, d.OH);
        if (oh < 0) continue;
        for (int64_t kw = 0; kw < d.KW; ++kw) {
          const int64_t ow = source_of(wc, kw, d.sw, d.pw, d.dw, d.OW);
          if (ow >= 0) acc += wk[kh * d.KW + kw] * gyp[oh * d.OW + ow];
        }
      }
    }
    gx[i] = acc;
  }
};

// grad_w element e = (co, ci in group, kh, kw) gets a group of G threads that
// sum grad_out * x over the (n, oh, ow) whose window tap reads inside x.
template <int G, typename T>
__global__ void conv_backward_weight_kernel(T* gw, const T* gy, const T* x, ConvDims d,
                                            int64_t count) {
  const GroupIndex<G> at;
  const int64_t positions = d.N * d.OH * d.OW;
  for (int64_t e = at.first; e < count; e += at.step) {
    const int64_t kw = e % d.KW, kh = e / d.KW % d.KH, pair = e / (d.KW * d.KH);
    const int64_t co = pair / d.cin_g, ci = co / d.cout_g * d.cin_g + pair % d.cin_g;
    T acc = 0;
    for (int64_t p = at.lane; p < positions; p += G) {
      const int64_t ow = p % d.OW, oh = p / d.OW % d.OH, n = p / (d.OW * d.OH);
      const int64_t h = oh * d.sh + kh * d.dh - d.ph, w = ow * d.sw + kw * d.dw - d.pw;
      if (h >= 0 && h < d.H && w >= 0 && w < d.W)
        acc += gy[((n * d.Cout + co) * d.OH + oh) * d.OW + ow] *
               x[((n * d.Cin + ci) * d.H + h) * d.W + w];
    }
    acc = group_all_reduce<G>(acc, [](T a, T b) { return a + b; });
    if (at.lane == 0) gw[e] = acc;
  }
}

template <typename T>
void im2col(const Tensor& cols, const Tensor& x, const ConvGeometry& g) {
  DeviceScope scope("im2col", {&cols, &x});
  LG_CHECK(x.dim() == 4, "im2col: CUDA kernel expected x [N,C,H,W], got ", x.describe());
  const ConvDims d = conv_dims(x.shape(), 0, g);
  check_conv_operand("im2col", x, x.shape(), dtype_of<T>());
  check_conv_operand("im2col", cols, {d.N, d.Cin * d.KH * d.KW, d.OH * d.OW}, dtype_of<T>());
  launch_flat("im2col", cols.numel(), Im2colFn<T>{ptr<T>(cols), ptr<T>(x), d});
}

template <typename T>
void col2im(const Tensor& x, const Tensor& cols, const ConvGeometry& g) {
  DeviceScope scope("col2im", {&x, &cols});
  LG_CHECK(x.dim() == 4, "col2im: CUDA kernel expected x [N,C,H,W], got ", x.describe());
  const ConvDims d = conv_dims(x.shape(), 0, g);
  check_conv_operand("col2im", x, x.shape(), dtype_of<T>());
  check_conv_operand("col2im", cols, {d.N, d.Cin * d.KH * d.KW, d.OH * d.OW}, dtype_of<T>());
  launch_flat("col2im", x.numel(), Col2imFn<T>{ptr<T>(x), ptr<T>(cols), d});
}

// The dims of a direct convolution with x's and out's shapes, its operands checked.
ConvDims direct_dims(const char* op, const Tensor& x, const Tensor& out, const Tensor& w,
                     const ConvGeometry& g, DType dtype) {
  LG_CHECK(x.dim() == 4 && out.dim() == 4 && g.groups > 0 && x.shape()[1] % g.groups == 0 &&
               out.shape()[1] % g.groups == 0,
           op, ": CUDA kernel expected 4-d operands with channels divisible by ", g.groups,
           " groups, got ", x.describe(), " and ", out.describe());
  const ConvDims d = conv_dims(x.shape(), out.shape()[1], g);
  check_conv_operand(op, x, x.shape(), dtype);
  check_conv_operand(op, out, {d.N, d.Cout, d.OH, d.OW}, dtype);
  check_conv_operand(op, w, {d.Cout, d.cin_g, d.KH, d.KW}, dtype);
  return d;
}

template <typename T>
void conv2d_direct(const Tensor& out, const Tensor& x, const Tensor& w, const ConvGeometry& g) {
  DeviceScope scope("conv2d", {&out, &x, &w});
  const ConvDims d = direct_dims("conv2d", x, out, w, g, dtype_of<T>());
  launch_flat("conv2d", out.numel(), ConvDirectFn<T>{ptr<T>(out), ptr<T>(x), ptr<T>(w), d});
}

template <typename T>
void conv2d_direct_backward_input(const Tensor& grad_x, const Tensor& grad_out, const Tensor& w,
                                  const ConvGeometry& g) {
  const char* op = "conv2d backward";
  DeviceScope scope(op, {&grad_x, &grad_out, &w});
  const ConvDims d = direct_dims(op, grad_x, grad_out, w, g, dtype_of<T>());
  launch_flat(op, grad_x.numel(),
              ConvBackwardInputFn<T>{ptr<T>(grad_x), ptr<T>(grad_out), ptr<T>(w), d});
}

template <typename T>
void conv2d_direct_backward_weight(const Tensor& grad_w, const Tensor& grad_out, const Tensor& x,
                                   const ConvGeometry& g) {
  const char* op = "conv2d backward";
  DeviceScope scope(op, {&grad_w, &grad_out, &x});
  const ConvDims d = direct_dims(op, x, grad_out, grad_w, g, dtype_of<T>());
  const int64_t count = grad_w.numel(), positions = d.N * d.OH * d.OW;
  if (count == 0) return;
  with_group_size(positions, count, [&]<int G>() {
    launch_kernel(conv_backward_weight_kernel<G, T>, blocks_for_groups<G>(count), kThreads, 0,
                  ptr<T>(grad_w), ptr<T>(grad_out), ptr<T>(x), d, count);
  });
}

}  // namespace

void fill_conv_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      t.im2col = im2col<T>;
      t.col2im = col2im<T>;
      t.conv2d_direct = conv2d_direct<T>;
      t.conv2d_direct_backward_input = conv2d_direct_backward_input<T>;
      t.conv2d_direct_backward_weight = conv2d_direct_backward_weight<T>;
    }
  });
}

}  // namespace lg::cuda
