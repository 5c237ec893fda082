// max_pool1d/2d and avg_pool1d/2d against nested-loop float64 references on
// random inputs (stride, padding, dilation, count_include_pad, non-contiguous,
// unbatched, float32), the max gradient going to the window's maximum, errors.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include "test_util.h"

#include <cmath>

using namespace lg;

namespace {

struct Cfg {
  int64_t N, C, H, W, KH, KW;
  std::array<int64_t, 2> stride, padding, dilation;
};

// Pools every [H, W] plane; max ignores padding, avg divides by the window
// size (count_include_pad) or by the positions inside the input.
std::vector<double> pool_ref(const Cfg& c, const std::vector<double>& x, bool is_max,
                             bool count_include_pad, int64_t OH, int64_t OW) {
  std::vector<double> out;
  for (int64_t p = 0; p < c.N * c.C; ++p)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        double best = -INFINITY, total = 0;
        int64_t inside = 0;
        for (int64_t kh = 0; kh < c.KH; ++kh)
          for (int64_t kw = 0; kw < c.KW; ++kw) {
            int64_t ih = oh * c.stride[0] - c.padding[0] + kh * c.dilation[0];
            int64_t iw = ow * c.stride[1] - c.padding[1] + kw * c.dilation[1];
            if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
            double v = x[(p * c.H + ih) * c.W + iw];
            best = std::max(best, v);
            total += v;
            ++inside;
          }
        out.push_back(is_max ? best : total / (count_include_pad ? c.KH * c.KW : inside));
      }
  return out;
}


Tensor rnd(const Shape& shape, DType dtype, bool strided) {
  Shape s = shape;
  if (strided) std::swap(s[0], s[1]);
  Tensor t = empty(s, {.dtype = dtype});
  uniform_(t, -2, 2);
  return strided ? t.transpose(0, 1) : t;
}

int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
  return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

}  // namespace

TEST_CASE("pool2d matches a nested-loop reference") {
  manual_seed(21);
  std::vector<Cfg> cases = {{2, 3, 6, 7, 2, 2, {2, 2}, {0, 0}, {1, 1}},
                            {1, 2, 7, 5, 3, 2, {2, 1}, {1, 1}, {1, 1}},
                            {2, 2, 9, 8, 3, 3, {1, 2}, {1, 0}, {2, 1}},
                            {1, 4, 5, 5, 5, 5, {1, 1}, {2, 2}, {1, 1}}};
  for (const Cfg& c : cases)
    for (DType dtype : {kFloat64, kFloat32})
      for (bool strided : {false, true}) {
        CAPTURE(c.KH);
        CAPTURE(dtype_name(dtype));
        CAPTURE(strided);
        Tensor x = rnd({c.N, c.C, c.H, c.W}, dtype, strided);
        std::vector<double> xv = x.to_vector<double>();
        double tol = dtype == kFloat64 ? 1e-12 : 1e-5;
        int64_t OH = out_size(c.H, c.KH, c.stride[0], c.padding[0], c.dilation[0]);
        int64_t OW = out_size(c.W, c.KW, c.stride[1], c.padding[1], c.dilation[1]);
        Tensor mx = max_pool2d(x, {c.KH, c.KW},
                               {.stride = c.stride, .padding = c.padding, .dilation = c.dilation});
        CHECK(mx.shape() == Shape{c.N, c.C, OH, OW});
        check_close(mx, pool_ref(c, xv, true, true, OH, OW), tol);
        if (c.dilation[0] != 1 || c.dilation[1] != 1) continue;  // avg_pool has no dilation
        for (bool include : {true, false}) {
          Tensor av =
              avg_pool2d(x, {c.KH, c.KW},
                         {.stride = c.stride, .padding = c.padding, .count_include_pad = include});
          check_close(av, pool_ref(c, xv, false, include, OH, OW), tol);
        }
      }
}

TEST_CASE("pool1d matches the reference with a height of 1, unbatched and with the default stride") {
  manual_seed(22);
  Tensor x = rnd({2, 3, 11}, kFloat64, true);
  std::vector<double> xv = x.to_vector<double>();
  Cfg c{2, 3, 1, 11, 1, 3, {1, 2}, {0, 1}, {1, 2}};
  int64_t OL = out_size(11, 3, 2, 1, 2);
  Tensor mx = max_pool1d(x, 3, {.stride = 2, .padding = 1, .dilation = 2});
  CHECK(mx.shape() == Shape{2, 3, OL});
  check_close(mx, pool_ref(c, xv, true, true, 1, OL), 1e-12);
  Cfg a{2, 3, 1, 11, 1, 4, {1, 4}, {0, 2}, {1, 1}};  // stride defaults to the kernel size
  int64_t AL = out_size(11, 4, 4, 2, 1);
  for (bool include : {true, false}) {
    Tensor av = avg_pool1d(x, 4, {.padding = 2, .count_include_pad = include});
    CHECK(av.shape() == Shape{2, 3, AL});
    check_close(av, pool_ref(a, xv, false, include, 1, AL), 1e-12);
  }
  CHECK(max_pool1d(x.select(0, 1), 3).shape() == Shape{3, 3});
  CHECK(avg_pool2d(rnd({3, 4, 6}, kFloat32, false), {2, 2}).shape() == Shape{3, 2, 3});
}

TEST_CASE("max_pool's gradient goes to each window's maximum") {
  Tensor x = from_vector(std::vector<double>{1, 5, 2, 0, 3, 4, 7, 6}, {1, 1, 8}).requires_grad_();
  max_pool1d(x, 2).sum().backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 1, 1, 0, 0, 1, 1, 0});
}

TEST_CASE("pool errors name the op and the shapes") {
  Tensor x = randn({2, 3, 8}), x2 = randn({2, 3, 6, 6});
  CHECK_ERROR(max_pool1d(x, 9), "max_pool1d", "output size 0 is less than 1", "[2,3,8]");
  CHECK_ERROR(max_pool1d(x, 0), "max_pool1d", "kernel size 0");
  CHECK_ERROR(max_pool1d(x, 2, {.padding = 2}), "max_pool1d", "padding 2", "half");
  CHECK_ERROR(max_pool1d(x, 2, {.stride = -1}), "max_pool1d", "stride -1");
  CHECK_ERROR(max_pool1d(randn({8}), 2), "max_pool1d", "[N, C, L]", "[8]");
  CHECK_ERROR(avg_pool1d(x, 3, {.padding = -1}), "avg_pool1d", "padding -1");
  CHECK_ERROR(avg_pool1d(arange(8).reshape({1, 1, 8}), 2), "avg_pool1d", "int64");
  CHECK_ERROR(max_pool2d(x2, {7, 2}), "max_pool2d", "output size [0,3]", "[2,3,6,6]");
  CHECK_ERROR(max_pool2d(x2, {2, 2}, {.dilation = {0, 1}}), "max_pool2d", "dilation [0,1]");
  CHECK_ERROR(max_pool2d(randn({3, 8}), {2, 2}), "max_pool2d", "[N, C, H, W]", "[3,8]");
  CHECK_ERROR(avg_pool2d(x2, {3, 3}, {.padding = {2, 0}}), "avg_pool2d", "padding [2,0]");
  CHECK_ERROR(avg_pool2d(Tensor(), {2, 2}), "avg_pool2d");
}
