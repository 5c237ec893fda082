// conv1d/conv2d on every algorithm against a direct nested-loop float64
// reference on random inputs (stride, padding, dilation, groups, depthwise,
// non-square, batches, non-contiguous, float32); im2col/col2im against their
// definition; the fused backwards against the composite; the im2col path's
// chunks of samples against the whole-batch formula; every error path.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include <cmath>

#include "ops/conv_chunks.h"
#include "test_util.h"

using namespace lg;

namespace {

struct Cfg {
  int64_t N, Cin, H, W, Cout, KH, KW;
  std::array<int64_t, 2> stride = {1, 1}, padding = {0, 0}, dilation = {1, 1};
  int64_t groups = 1;
};

// out[n,co,oh,ow] = b[co] + sum over the group's ci, kh, kw of x * w, zero padding.
std::vector<double> conv_ref(const Cfg& c, const std::vector<double>& x,
                             const std::vector<double>& w, const std::vector<double>& b, int64_t OH,
                             int64_t OW) {
  std::vector<double> out(c.N * c.Cout * OH * OW);
  int64_t cin_g = c.Cin / c.groups, cout_g = c.Cout / c.groups;
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t co = 0; co < c.Cout; ++co)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = b.empty() ? 0.0 : b[co];
          for (int64_t ci = 0; ci < cin_g; ++ci)
            for (int64_t kh = 0; kh < c.KH; ++kh)
              for (int64_t kw = 0; kw < c.KW; ++kw) {
                int64_t ih = oh * c.stride[0] - c.padding[0] + kh * c.dilation[0];
                int64_t iw = ow * c.stride[1] - c.padding[1] + kw * c.dilation[1];
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                int64_t cx = co / cout_g * cin_g + ci;
                acc += x[((n * c.Cin + cx) * c.H + ih) * c.W + iw] *
                       w[((co * cin_g + ci) * c.KH + kh) * c.KW + kw];
              }
          out[((n * c.Cout + co) * OH + oh) * OW + ow] = acc;
        }
  return out;
}

int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
  return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

Tensor rnd(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, {.dtype = dtype});
  uniform_(t, -1, 1);
  return t;
}

// A non-contiguous tensor of `shape` (the last two dims transposed in memory).
Tensor rnd_strided(const Shape& shape, DType dtype) {
  Shape s = shape;
  std::swap(s[s.size() - 1], s[s.size() - 2]);
  return rnd(s, dtype).transpose(-1, -2);
}

const std::vector<Cfg> kCases = {
    {1, 1, 5, 5, 1, 3, 3},
    {2, 3, 7, 6, 4, 3, 2, {2, 1}, {1, 0}, {1, 2}},
    {3, 4, 6, 9, 6, 2, 3, {1, 3}, {2, 1}, {2, 1}, 2},
    {2, 6, 8, 7, 6, 3, 3, {1, 1}, {1, 1}, {1, 1}, 6},  // depthwise
    {2, 4, 9, 5, 8, 3, 1, {2, 2}, {1, 0}, {3, 1}, 4},  // depthwise, channel multiplier 2
    {1, 3, 16, 16, 5, 4, 4, {4, 4}},                   // patch embedding
    {2, 5, 4, 4, 3, 1, 1},                             // 1x1
    {1, 2, 3, 3, 2, 5, 5, {1, 1}, {2, 2}},             // kernel larger than the input
};

}  // namespace

TEST_CASE("conv2d matches a nested-loop reference on every algorithm, dtype and layout") {
  manual_seed(7);
  for (const Cfg& c : kCases)
    for (ConvAlgorithm algo : {ConvAlgorithm::Auto, ConvAlgorithm::Im2col, ConvAlgorithm::Direct})
      for (DType dtype : {kFloat64, kFloat32})
        for (bool strided : {false, true})
          for (bool with_bias : {false, true}) {
            CAPTURE(c.N);
            CAPTURE(c.Cin);
            CAPTURE(c.groups);
            CAPTURE(static_cast<int>(algo));
            CAPTURE(dtype_name(dtype));
            CAPTURE(strided);
            Shape xs = {c.N, c.Cin, c.H, c.W}, ws = {c.Cout, c.Cin / c.groups, c.KH, c.KW};
            Tensor x = strided ? rnd_strided(xs, dtype) : rnd(xs, dtype);
            Tensor w = strided ? rnd_strided(ws, dtype) : rnd(ws, dtype);
            Tensor b = with_bias ? rnd({c.Cout}, dtype) : Tensor();
            Tensor y = conv2d(x, w, b,
                              {.stride = c.stride,
                               .padding = c.padding,
                               .dilation = c.dilation,
                               .groups = c.groups,
                               .algorithm = algo});
            int64_t OH = out_size(c.H, c.KH, c.stride[0], c.padding[0], c.dilation[0]);
            int64_t OW = out_size(c.W, c.KW, c.stride[1], c.padding[1], c.dilation[1]);
            CHECK(y.shape() == Shape{c.N, c.Cout, OH, OW});
            CHECK(y.dtype() == dtype);
            auto want = conv_ref(c, x.to_vector<double>(), w.to_vector<double>(),
                                 with_bias ? b.to_vector<double>() : std::vector<double>{}, OH, OW);
            check_close(y, want, dtype == kFloat64 ? 1e-12 : 1e-5);
          }
}

TEST_CASE("conv1d is conv2d over a height of 1, at speech-like shapes too") {
  manual_seed(8);
  struct C1 {
    int64_t N, Cin, L, Cout, K, stride, padding, dilation, groups;
  };
  std::vector<C1> cases = {{2, 3, 11, 4, 3, 1, 0, 1, 1},
                           {1, 4, 10, 6, 2, 2, 1, 3, 2},
                           {2, 16, 40, 16, 31, 1, 15, 1, 16},
                           {3, 8, 25, 8, 3, 1, 1, 1, 1},
                           {1, 2, 9, 4, 4, 3, 2, 2, 2}};
  for (const C1& c : cases)
    for (ConvAlgorithm algo : {ConvAlgorithm::Auto, ConvAlgorithm::Im2col, ConvAlgorithm::Direct})
      for (DType dtype : {kFloat64, kFloat32}) {
        CAPTURE(c.Cin);
        CAPTURE(c.K);
        CAPTURE(static_cast<int>(algo));
        Tensor x = rnd_strided({c.N, c.Cin, c.L}, dtype);
        Tensor w = rnd({c.Cout, c.Cin / c.groups, c.K}, dtype);
        Tensor b = rnd({c.Cout}, dtype);
        Tensor y = conv1d(x, w, b,
                          {.stride = c.stride,
                           .padding = c.padding,
                           .dilation = c.dilation,
                           .groups = c.groups,
                           .algorithm = algo});
        Cfg c2{
            c.N,     c.Cin, 1, c.L, c.Cout, 1, c.K, {1, c.stride}, {0, c.padding}, {1, c.dilation},
            c.groups};
        int64_t OL = out_size(c.L, c.K, c.stride, c.padding, c.dilation);
        CHECK(y.shape() == Shape{c.N, c.Cout, OL});
        auto want = conv_ref(c2, x.to_vector<double>(), w.to_vector<double>(),
                             b.to_vector<double>(), 1, OL);
        check_close(y, want, dtype == kFloat64 ? 1e-12 : 1e-5);
      }
}

TEST_CASE("unbatched inputs give unbatched outputs") {
  manual_seed(9);
  Tensor x = rnd({3, 10}, kFloat64), w = rnd({2, 3, 3}, kFloat64);
  Tensor y = conv1d(x, w, {}, {.padding = 1});
  CHECK(y.shape() == Shape{2, 10});
  check_close(y, conv1d(x.unsqueeze(0), w, {}, {.padding = 1}).to_vector<double>(), 1e-15);
  Tensor x2 = rnd({3, 5, 6}, kFloat64), w2 = rnd({4, 3, 2, 2}, kFloat64);
  CHECK(conv2d(x2, w2).shape() == Shape{4, 4, 5});
}

TEST_CASE("im2col matches its definition and col2im is its adjoint") {
  manual_seed(10);
  FoldOptions o{.dilation = {2, 1}, .padding = {1, 2}, .stride = {1, 2}};
  for (DType dtype : {kFloat64, kFloat32}) {
    Tensor x = rnd_strided({2, 3, 6, 7}, dtype);
    Tensor cols = im2col(x, {2, 3}, o);
    int64_t OH = out_size(6, 2, 1, 1, 2), OW = out_size(7, 3, 2, 2, 1);
    REQUIRE(cols.shape() == Shape{2, 3 * 6, OH * OW});
    std::vector<double> xv = x.to_vector<double>(), want(cols.numel());
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t r = 0; r < 18; ++r)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) {
            int64_t ch = r / 6, kh = r / 3 % 2, kw = r % 3;
            int64_t ih = oh - 1 + 2 * kh, iw = ow * 2 - 2 + kw;
            bool in = ih >= 0 && ih < 6 && iw >= 0 && iw < 7;
            want[((n * 18 + r) * OH + oh) * OW + ow] =
                in ? xv[((n * 3 + ch) * 6 + ih) * 7 + iw] : 0;
          }
    check_close(cols, want, 0);
    // <im2col(x), c> == <x, col2im(c)> for random c.
    Tensor c = rnd(cols.shape(), dtype);
    Tensor back = col2im(c, {6, 7}, {2, 3}, o);
    REQUIRE(back.shape() == x.shape());
    double lhs = sum(cols * c).item<double>(), rhs = sum(x * back).item<double>();
    CHECK(lhs == doctest::Approx(rhs).epsilon(dtype == kFloat64 ? 1e-12 : 1e-5));
  }
}

TEST_CASE("the fused backwards (direct, im2col) match the composite one, in float32 too") {
  manual_seed(12);
  for (const Cfg& c : kCases) {
    CAPTURE(c.Cin);
    CAPTURE(c.groups);
    Shape xs = {c.N, c.Cin, c.H, c.W}, ws = {c.Cout, c.Cin / c.groups, c.KH, c.KW};
    Tensor x64 = rnd(xs, kFloat64), w64 = rnd(ws, kFloat64), b64 = rnd({c.Cout}, kFloat64);
    auto grads = [&](DType dtype, ConvAlgorithm algo, bool create_graph) {
      Tensor x = x64.to(dtype).detach().requires_grad_();
      Tensor w = w64.to(dtype).detach().requires_grad_();
      Tensor b = b64.to(dtype).detach().requires_grad_();
      Tensor y = conv2d(x, w, b,
                        {.stride = c.stride,
                         .padding = c.padding,
                         .dilation = c.dilation,
                         .groups = c.groups,
                         .algorithm = algo});
      CHECK(y.grad_fn()->has_fused_backward());
      return grad({sum(y * y)}, {x, w, b}, {.create_graph = create_graph});
    };
    // create_graph runs the composite backward (differentiable ops).
    auto want = grads(kFloat64, ConvAlgorithm::Im2col, true);
    for (ConvAlgorithm algo : {ConvAlgorithm::Im2col, ConvAlgorithm::Direct})
      for (DType dtype : {kFloat64, kFloat32})
        for (bool create_graph : {false, true}) {
          CAPTURE(static_cast<int>(algo));
          CAPTURE(dtype_name(dtype));
          CAPTURE(create_graph);
          auto got = grads(dtype, algo, create_graph);
          for (size_t i = 0; i < 3; ++i) {
            CHECK(got[i].dtype() == dtype);
            check_close(got[i], want[i].to_vector<double>(), dtype == kFloat64 ? 1e-10 : 1e-4);
          }
        }
  }
}

namespace {
// Sets conv's chunk budget for one scope.
struct ChunkBytes {
  int64_t old;
  explicit ChunkBytes(int64_t bytes) : old(detail::set_conv_chunk_bytes(bytes)) {}
  ~ChunkBytes() { detail::set_conv_chunk_bytes(old); }
  ChunkBytes(const ChunkBytes&) = delete;
  ChunkBytes& operator=(const ChunkBytes&) = delete;
};
}  // namespace

TEST_CASE("the im2col path chunk by chunk equals the whole-batch im2col + matmul formula") {
  manual_seed(13);
  const int64_t N = 5, Cin = 4, H = 9, W = 8, Cout = 6, KH = 3, KW = 3;
  const Conv2dOptions base{.stride = {2, 2}, .padding = {1, 1}, .dilation = {2, 2}};
  const FoldOptions fold{.dilation = base.dilation, .padding = base.padding, .stride = base.stride};
  const int64_t OH = out_size(H, KH, 2, 1, 2), OW = out_size(W, KW, 2, 1, 2), L = OH * OW;
  for (int64_t groups : {1, 2})
    for (DType dtype : {kFloat64, kFloat32}) {
      Conv2dOptions o = base;
      o.groups = groups;
      o.algorithm = ConvAlgorithm::Im2col;
      const int64_t cgk = Cin / groups * KH * KW, coutg = Cout / groups;
      Tensor x0 = rnd({N, Cin, H, W}, dtype), w0 = rnd({Cout, Cin / groups, KH, KW}, dtype);
      Tensor b0 = rnd({Cout}, dtype), r = rnd({N, Cout, OH, OW}, dtype);
      auto leaves = [&] {
        return std::vector<Tensor>{x0.detach().requires_grad_(), w0.detach().requires_grad_(),
                                   b0.detach().requires_grad_()};
      };
      // The old forward: the whole batch's columns, one batched matmul.
      std::vector<Tensor> in = leaves();
      Tensor cols = im2col(in[0], {KH, KW}, fold).reshape({N, groups, cgk, L});
      Tensor want = matmul(in[1].reshape({groups, coutg, cgk}), cols).reshape({N, Cout, OH, OW}) +
                    in[2].view({1, Cout, 1, 1});
      std::vector<Tensor> want_grads = grad({sum(want * r)}, in);
      const int64_t sample_bytes = (Cin * KH * KW + Cout) * L * int64_t(element_size(dtype));
      // One sample per chunk; chunks of 2, 2 and 1; the whole batch in one.
      for (int64_t budget : {int64_t{0}, 2 * sample_bytes + 1, int64_t{1} << 30}) {
        ChunkBytes scoped(budget);
        for (bool create_graph : {false, true}) {
          CAPTURE(groups);
          CAPTURE(dtype_name(dtype));
          CAPTURE(budget);
          CAPTURE(create_graph);
          std::vector<Tensor> v = leaves();
          Tensor y = conv2d(v[0], v[1], v[2], o);
          double tol = dtype == kFloat64 ? 1e-12 : 1e-5;
          check_close(y, want.to_vector<double>(), tol);
          std::vector<Tensor> got = grad({sum(y * r)}, v, {.create_graph = create_graph});
          for (size_t i = 0; i < 3; ++i) {
            CAPTURE(i);
            CHECK(got[i].shape() == v[i].shape());
            check_close(got[i], want_grads[i].to_vector<double>(), tol);
          }
        }
      }
    }
  CHECK_ERROR(detail::set_conv_chunk_bytes(-1), "set_conv_chunk_bytes", "-1");
}

TEST_CASE("the im2col path takes an empty batch: an empty output, a zero weight gradient") {
  Tensor x = zeros({0, 2, 5, 5}).requires_grad_(), w = rnd({3, 2, 3, 3}, kFloat32);
  w.requires_grad_();
  Tensor y = conv2d(x, w, {}, {.padding = {1, 1}, .algorithm = ConvAlgorithm::Im2col});
  CHECK(y.shape() == Shape{0, 3, 5, 5});
  std::vector<Tensor> g = grad({sum(y)}, {x, w});
  CHECK(g[0].shape() == x.shape());
  check_close(g[1], std::vector<double>(w.numel(), 0.0), 0);
}

TEST_CASE("conv errors name the op and the shapes") {
  Tensor x = randn({2, 4, 10}), w = randn({6, 4, 3});
  CHECK_ERROR(conv1d(x, randn({6, 3, 3})), "conv1d", "[2,4,10]", "[6,3,3]", "4 channels");
  CHECK_ERROR(conv1d(x, randn({6, 2, 3}), {}, {.groups = 3}), "conv1d", "groups 3",
              "4 input channels", "[2,4,10]");
  CHECK_ERROR(conv1d(x, randn({5, 2, 3}), {}, {.groups = 2}), "conv1d", "groups 2",
              "5 output channels", "[5,2,3]");
  CHECK_ERROR(conv1d(x, w, {}, {.groups = 0}), "conv1d", "groups must be positive");
  CHECK_ERROR(conv1d(x, randn({6, 4, 11})), "conv1d", "output size 0 is less than 1", "[2,4,10]",
              "[6,4,11]");
  CHECK_ERROR(conv1d(x, w, {}, {.dilation = 5}), "conv1d", "less than 1", "dilation 5");
  CHECK_ERROR(conv1d(x, w, {}, {.stride = 0}), "conv1d", "stride 0");
  CHECK_ERROR(conv1d(x, w, {}, {.padding = -1}), "conv1d", "padding -1");
  CHECK_ERROR(conv1d(randn({1, 2, 4, 10}), w), "conv1d", "[N, Cin, L]", "[1,2,4,10]");
  CHECK_ERROR(conv1d(randn({10}), w), "conv1d", "[10]");
  CHECK_ERROR(conv1d(x, randn({6, 4})), "conv1d", "weight", "[6,4]");
  CHECK_ERROR(conv1d(x, w, randn({5})), "conv1d", "bias", "[5]", "6 output channels");
  CHECK_ERROR(conv1d(x, w.to(kFloat64)), "conv1d", "float32[2,4,10]", "float64[6,4,3]");
  CHECK_ERROR(conv1d(x, w, randn({6}, {.dtype = kFloat64})), "conv1d", "bias", "float64[6]");
  CHECK_ERROR(conv1d(arange(20).reshape({1, 2, 10}), randn({1, 2, 3})), "conv1d", "int64");
  CHECK_ERROR(conv1d(Tensor(), w), "conv1d", "input");
  CHECK_ERROR(conv1d(x, Tensor()), "conv1d", "weight");

  Tensor x2 = randn({2, 3, 8, 8});
  CHECK_ERROR(conv2d(x2, randn({4, 2, 3, 3})), "conv2d", "[2,3,8,8]", "[4,2,3,3]", "3 channels");
  CHECK_ERROR(conv2d(x2, randn({4, 3, 3, 9})), "conv2d", "output size [6,0] is less than 1");
  CHECK_ERROR(conv2d(x2, randn({4, 3, 3, 3}), {}, {.stride = {1, 0}}), "conv2d", "stride [1,0]");
  CHECK_ERROR(conv2d(x2, randn({4, 3, 3, 3}), {}, {.dilation = {0, 1}}), "conv2d",
              "dilation [0,1]");
  CHECK_ERROR(conv2d(x2, randn({4, 3, 0, 3})), "conv2d", "kernel size [0,3]");
  CHECK_ERROR(conv2d(x2, randn({4, 1, 3, 3}), {}, {.groups = 2}), "conv2d", "groups 2",
              "3 input channels");
  CHECK_ERROR(conv2d(randn({3, 8}), randn({4, 3, 3, 3})), "conv2d", "[N, Cin, H, W]", "[3,8]");
  CHECK_ERROR(conv2d(x2, randn({4, 3, 3})), "conv2d", "weight", "[4,3,3]");
}

TEST_CASE("im2col and col2im errors name the op and the shapes") {
  CHECK_ERROR(im2col(randn({2, 3, 4}), {2, 2}), "im2col", "[N, C, H, W]", "[2,3,4]");
  CHECK_ERROR(im2col(randn({1, 2, 3, 3}), {4, 2}), "im2col", "output size [0,2]", "[1,2,3,3]");
  CHECK_ERROR(im2col(randn({1, 2, 3, 3}), {2, 2}, {.stride = {0, 1}}), "im2col", "stride");
  CHECK_ERROR(col2im(randn({1, 7, 4}), {3, 3}, {2, 2}), "col2im", "[1,7,4]", "multiple");
  CHECK_ERROR(col2im(randn({1, 8, 5}), {3, 3}, {2, 2}), "col2im", "5 columns", "[3,3]");
  CHECK_ERROR(col2im(randn({8, 4}), {3, 3}, {2, 2}), "col2im", "[N, C*KH*KW, L]", "[8,4]");
  CHECK_ERROR(col2im(randn({1, 8, 4}), {0, 3}, {2, 2}), "col2im", "output size [0,3]");
}
