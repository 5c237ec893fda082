// CPU convolution kernels: im2col and its adjoint col2im (the GEMM path), and
// a direct grouped convolution (faster where there is little to reuse per
// output, as in depthwise convolution). OpenMP over rows / planes.
#include <algorithm>
#include <cstring>

#include "cpu_kernels.h"
#include "strided_loop.h"

namespace lg::cpu {
namespace {

// Output positions o in [lo, hi) read input o*stride + offset inside [0, size).
struct ValidRange {
  int64_t lo, hi;
};
ValidRange valid_range(int64_t offset, int64_t stride, int64_t size, int64_t out_size) {
  // o*stride + offset >= 0  and  o*stride + offset <= size - 1
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t top = size - 1 - offset;
  int64_t hi = top < 0 ? 0 : top / stride + 1;
  lo = std::min(lo, out_size);
  hi = std::clamp(hi, lo, out_size);
  return {lo, hi};
}

// o[i] = in[i * S] for i in [lo, hi): cols and x never overlap.
template <int S, typename T>
void copy_strided(T* __restrict o, const T* __restrict in, int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; ++i) o[i] = in[i * S];
}

// dst[2i] += s[i] for i in [lo, hi). The elements between take + 0, which
// leaves them as they are (col2im's sums start at +0, so none is -0), and
// so the pairs load, add and store as whole vectors; the last pair's second
// element, which may lie past the row, is left out.
template <typename T>
void add_stride2(T* __restrict dst, const T* __restrict s, int64_t lo, int64_t hi) {
  if (hi <= lo) return;
  for (int64_t i = lo; i + 1 < hi; ++i) {
    dst[2 * i] += s[i];
    dst[2 * i + 1] += T(0);
  }
  dst[2 * (hi - 1)] += s[hi - 1];
}

struct Dims {
  int64_t N, C, H, W, OH, OW;
};
Dims dims_of(const Tensor& x, const ConvGeometry& g) {
  const Shape& xs = x.shape();
  auto out_size = [&](int a) {
    return (xs[2 + a] + 2 * g.padding[a] - g.dilation[a] * (g.kernel[a] - 1) - 1) / g.stride[a] + 1;
  };
  return {xs[0], xs[1], xs[2], xs[3], out_size(0), out_size(1)};
}

template <typename T>
void im2col(const Tensor& cols_t, const Tensor& x_t, const ConvGeometry& g) {
  const Dims d = dims_of(x_t, g);
  const int64_t KH = g.kernel[0], KW = g.kernel[1], L = d.OH * d.OW;
  const int64_t rows = d.N * d.C * KH * KW;
  const T* x = ptr<T>(x_t);
  T* cols = ptr<T>(cols_t);
  parallel_for(0, rows, grain_for(L), [&](int64_t r) {
    const int64_t kw = r % KW, kh = (r / KW) % KH, nc = r / (KH * KW);
    const T* plane = x + nc * d.H * d.W;
    T* out = cols + r * L;
    const int64_t off_h = kh * g.dilation[0] - g.padding[0];
    const int64_t off_w = kw * g.dilation[1] - g.padding[1];
    const ValidRange vh = valid_range(off_h, g.stride[0], d.H, d.OH);
    const ValidRange vw = valid_range(off_w, g.stride[1], d.W, d.OW);
    for (int64_t oh = 0; oh < d.OH; ++oh) {
      T* o = out + oh * d.OW;
      if (oh < vh.lo || oh >= vh.hi) {
        std::fill(o, o + d.OW, T(0));
        continue;
      }
      const T* in = plane + (oh * g.stride[0] + off_h) * d.W + off_w;
      std::fill(o, o + vw.lo, T(0));
      if (g.stride[1] == 1) {
        std::memcpy(o + vw.lo, in + vw.lo, (vw.hi - vw.lo) * sizeof(T));
      } else if (g.stride[1] == 2) {  // a constant stride the compiler vectorises
        copy_strided<2>(o, in, vw.lo, vw.hi);
      } else {
        for (int64_t ow = vw.lo; ow < vw.hi; ++ow) o[ow] = in[ow * g.stride[1]];
      }
      std::fill(o + vw.hi, o + d.OW, T(0));
    }
  });
}

// Each (n, c) input plane only receives from its own KH*KW rows of cols, so
// planes are independent and parallelise without atomics.
template <typename T>
void col2im(const Tensor& x_t, const Tensor& cols_t, const ConvGeometry& g) {
  const Dims d = dims_of(x_t, g);
  const int64_t KH = g.kernel[0], KW = g.kernel[1], L = d.OH * d.OW;
  const int64_t planes = d.N * d.C;
  T* x = ptr<T>(x_t);
  const T* cols = ptr<T>(cols_t);
  parallel_for(0, planes, grain_for(KH * KW * L), [&](int64_t nc) {
    T* plane = x + nc * d.H * d.W;
    std::fill(plane, plane + d.H * d.W, T(0));
    for (int64_t kh = 0; kh < KH; ++kh) {
      for (int64_t kw = 0; kw < KW; ++kw) {
        const T* src = cols + ((nc * KH + kh) * KW + kw) * L;
        const int64_t off_h = kh * g.dilation[0] - g.padding[0];
        const int64_t off_w = kw * g.dilation[1] - g.padding[1];
        const ValidRange vh = valid_range(off_h, g.stride[0], d.H, d.OH);
        const ValidRange vw = valid_range(off_w, g.stride[1], d.W, d.OW);
        for (int64_t oh = vh.lo; oh < vh.hi; ++oh) {
          T* dst = plane + (oh * g.stride[0] + off_h) * d.W + off_w;
          const T* s = src + oh * d.OW;
          if (g.stride[1] == 1) {
            for (int64_t ow = vw.lo; ow < vw.hi; ++ow) dst[ow] += s[ow];
          } else if (g.stride[1] == 2) {
            add_stride2(dst, s, vw.lo, vw.hi);
          } else {
            for (int64_t ow = vw.lo; ow < vw.hi; ++ow) dst[ow * g.stride[1]] += s[ow];
          }
        }
      }
    }
  });
}

// One output plane per (n, cout): accumulate weight * shifted input rows, so
// the inner loop is a contiguous axpy over output columns (stride 1).
template <typename T>
void conv2d_direct(const Tensor& out_t, const Tensor& x_t, const Tensor& w_t,
                   const ConvGeometry& g) {
  const int64_t N = x_t.shape()[0], Cin = x_t.shape()[1], H = x_t.shape()[2], W = x_t.shape()[3];
  const int64_t Cout = out_t.shape()[1], OH = out_t.shape()[2], OW = out_t.shape()[3];
  const int64_t KH = g.kernel[0], KW = g.kernel[1];
  const int64_t cin_g = Cin / g.groups, cout_g = Cout / g.groups;
  const T* x = ptr<T>(x_t);
  const T* w = ptr<T>(w_t);
  T* out = ptr<T>(out_t);
  const int64_t work = N * Cout * OH * OW * cin_g * KH * KW;
  parallel_for(0, N * Cout, grain_when(work >= kParallelGrain), [&](int64_t nco) {
    const int64_t n = nco / Cout, co = nco % Cout, grp = co / cout_g;
    T* o = out + nco * OH * OW;
    std::fill(o, o + OH * OW, T(0));
    for (int64_t ci = 0; ci < cin_g; ++ci) {
      const T* plane = x + (n * Cin + grp * cin_g + ci) * H * W;
      const T* wk = w + (co * cin_g + ci) * KH * KW;
      for (int64_t kh = 0; kh < KH; ++kh) {
        const int64_t off_h = kh * g.dilation[0] - g.padding[0];
        const ValidRange vh = valid_range(off_h, g.stride[0], H, OH);
        for (int64_t kw = 0; kw < KW; ++kw) {
          const T wv = wk[kh * KW + kw];
          const int64_t off_w = kw * g.dilation[1] - g.padding[1];
          const ValidRange vw = valid_range(off_w, g.stride[1], W, OW);
          for (int64_t oh = vh.lo; oh < vh.hi; ++oh) {
            const T* in = plane + (oh * g.stride[0] + off_h) * W + off_w;
            T* orow = o + oh * OW;
            if (g.stride[1] == 1) {
              for (int64_t ow = vw.lo; ow < vw.hi; ++ow) orow[ow] += wv * in[ow];
            } else {
              for (int64_t ow = vw.lo; ow < vw.hi; ++ow) orow[ow] += wv * in[ow * g.stride[1]];
            }
          }
        }
      }
    }
  });
}

// The adjoint of conv2d_direct in x: each (n, cin) plane gathers from the
// output planes of its group, so planes parallelise without atomics.
template <typename T>
void conv2d_direct_backward_input(const Tensor& gx_t, const Tensor& gy_t, const Tensor& w_t,
                                  const ConvGeometry& g) {
  const int64_t N = gx_t.shape()[0], Cin = gx_t.shape()[1], H = gx_t.shape()[2];
  const int64_t W = gx_t.shape()[3];
  const int64_t Cout = gy_t.shape()[1], OH = gy_t.shape()[2], OW = gy_t.shape()[3];
  const int64_t KH = g.kernel[0], KW = g.kernel[1];
  const int64_t cin_g = Cin / g.groups, cout_g = Cout / g.groups;
  T* gx = ptr<T>(gx_t);
  const T* gy = ptr<T>(gy_t);
  const T* w = ptr<T>(w_t);
  const int64_t work = N * Cout * OH * OW * cin_g * KH * KW;
  parallel_for(0, N * Cin, grain_when(work >= kParallelGrain), [&](int64_t nci) {
    const int64_t n = nci / Cin, ci = nci % Cin, grp = ci / cin_g, local = ci % cin_g;
    T* plane = gx + nci * H * W;
    std::fill(plane, plane + H * W, T(0));
    for (int64_t co = grp * cout_g; co < (grp + 1) * cout_g; ++co) {
      const T* gyp = gy + (n * Cout + co) * OH * OW;
      const T* wk = w + (co * cin_g + local) * KH * KW;
      for (int64_t kh = 0; kh < KH; ++kh) {
        const int64_t off_h = kh * g.dilation[0] - g.padding[0];
        const ValidRange vh = valid_range(off_h, g.stride[0], H, OH);
        for (int64_t kw = 0; kw < KW; ++kw) {
          const T wv = wk[kh * KW + kw];
          const int64_t off_w = kw * g.dilation[1] - g.padding[1];
          const ValidRange vw = valid_range(off_w, g.stride[1], W, OW);
          for (int64_t oh = vh.lo; oh < vh.hi; ++oh) {
            T* dst = plane + (oh * g.stride[0] + off_h) * W + off_w;
            const T* src = gyp + oh * OW;
            if (g.stride[1] == 1) {
              for (int64_t ow = vw.lo; ow < vw.hi; ++ow) dst[ow] += wv * src[ow];
            } else {
              for (int64_t ow = vw.lo; ow < vw.hi; ++ow) dst[ow * g.stride[1]] += wv * src[ow];
            }
          }
        }
      }
    }
  });
}

// The adjoint of conv2d_direct in w: one dot product over (n, oh, ow) per
// weight element, parallel over (cout, cin) pairs.
template <typename T>
void conv2d_direct_backward_weight(const Tensor& gw_t, const Tensor& gy_t, const Tensor& x_t,
                                   const ConvGeometry& g) {
  const int64_t N = x_t.shape()[0], Cin = x_t.shape()[1], H = x_t.shape()[2], W = x_t.shape()[3];
  const int64_t Cout = gy_t.shape()[1], OH = gy_t.shape()[2], OW = gy_t.shape()[3];
  const int64_t KH = g.kernel[0], KW = g.kernel[1];
  const int64_t cin_g = Cin / g.groups, cout_g = Cout / g.groups;
  T* gw = ptr<T>(gw_t);
  const T* gy = ptr<T>(gy_t);
  const T* x = ptr<T>(x_t);
  const int64_t work = N * Cout * OH * OW * cin_g * KH * KW;
  parallel_for(0, Cout * cin_g, grain_when(work >= kParallelGrain), [&](int64_t pair) {
    const int64_t co = pair / cin_g, ci = co / cout_g * cin_g + pair % cin_g;
    for (int64_t kh = 0; kh < KH; ++kh) {
      const int64_t off_h = kh * g.dilation[0] - g.padding[0];
      const ValidRange vh = valid_range(off_h, g.stride[0], H, OH);
      for (int64_t kw = 0; kw < KW; ++kw) {
        const int64_t off_w = kw * g.dilation[1] - g.padding[1];
        const ValidRange vw = valid_range(off_w, g.stride[1], W, OW);
        T acc = 0;
        for (int64_t n = 0; n < N; ++n) {
          const T* gyp = gy + (n * Cout + co) * OH * OW;
          const T* plane = x + (n * Cin + ci) * H * W;
          for (int64_t oh = vh.lo; oh < vh.hi; ++oh) {
            const T* in = plane + (oh * g.stride[0] + off_h) * W + off_w;
            const T* src = gyp + oh * OW;
            if (g.stride[1] == 1) {
              // simd: lets the compiler reorder the sum (it may not without it).
#pragma omp simd reduction(+ : acc)
              for (int64_t ow = vw.lo; ow < vw.hi; ++ow) acc += src[ow] * in[ow];
            } else {
              for (int64_t ow = vw.lo; ow < vw.hi; ++ow) acc += src[ow] * in[ow * g.stride[1]];
            }
          }
        }
        gw[pair * KH * KW + kh * KW + kw] = acc;
      }
    }
  });
}

template <typename T>
void fill_typed(KernelTable& t) {
  t.im2col = im2col<T>;
  t.col2im = col2im<T>;
  t.conv2d_direct = conv2d_direct<T>;
  t.conv2d_direct_backward_input = conv2d_direct_backward_input<T>;
  t.conv2d_direct_backward_weight = conv2d_direct_backward_weight<T>;
}

}  // namespace

void fill_conv_kernels(KernelTable& t, DType dtype) {
  if (dtype == kFloat32) fill_typed<float>(t);
  if (dtype == kFloat64) fill_typed<double>(t);
}

}  // namespace lg::cpu
