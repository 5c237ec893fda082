// The CUDA backend against the CPU backend: every CUDA kernel runs on the same
// inputs as its CPU twin and must agree. Exits 77 (ctest: skipped) without a GPU.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "core/kernels.h"

using namespace lg;

namespace {

const Device kCuda = Device::cuda(0);
const Device kCpu = Device::cpu();
const std::vector<DType> kAllDTypes = {kFloat32, kFloat64, kInt64, kBool};

Tensor gpu(const Tensor& t) { return t.to(kCuda); }

// A CPU tensor of `dtype` with values a kernel handles on both devices alike:
// floats around [-6, 6]; integers in [low, high]; bools half true.
Tensor random_input(const Shape& shape, DType dtype, int64_t low = -9, int64_t high = 10) {
  if (dtype == kBool) return lt(rand(shape), 0.5);
  if (dtype == kInt64)
    return (rand(shape, {.dtype = kFloat64}) * static_cast<double>(high - low + 1) +
            static_cast<double>(low))
        .to(kInt64);  // truncation keeps [low, high + 1) within [low, high]
  return randn(shape, {.dtype = dtype}) * 3.0;
}

// Same dtype, shape and values (within atol + rtol * |want|); NaN matches NaN.
void check_close(const Tensor& got, const Tensor& want, double rtol = 0, double atol = 0) {
  REQUIRE(got.device() == kCuda);
  REQUIRE(want.device() == kCpu);
  REQUIRE(got.dtype() == want.dtype());
  REQUIRE(got.shape() == want.shape());
  const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) {
    const bool same = (std::isnan(g[i]) && std::isnan(w[i])) || g[i] == w[i] ||
                      std::abs(g[i] - w[i]) <= atol + rtol * std::abs(w[i]);
    if (!same) {
      FAIL_CHECK("element " << i << " of " << want.describe() << ": cuda " << g[i] << ", cpu "
                            << w[i]);
      return;
    }
  }
}

// Tolerance (relative, and absolute near 0) for math whose last bits depend on
// the device's math library.
double math_tol(DType dtype) { return dtype == kFloat32 ? 1e-5 : dtype == kFloat64 ? 1e-13 : 0; }

// Operand layouts: the same views are taken of the CPU inputs and of their copies on CUDA.
struct Layout {
  const char* name;
  Shape a, b;
  std::function<std::pair<Tensor, Tensor>(const Tensor&, const Tensor&)> views;
};

std::vector<Layout> layouts() {
  return {
      {"contiguous",
       {3, 5, 7},
       {3, 5, 7},
       [](const Tensor& a, const Tensor& b) {
         return std::pair{a, b};
       }},
      {"broadcast",
       {4, 1, 6},
       {5, 1},
       [](const Tensor& a, const Tensor& b) {
         return std::pair{a.expand({4, 5, 6}), b.expand({4, 5, 6})};
       }},
      {"non-contiguous",
       {6, 8},
       {8, 12},
       [](const Tensor& a, const Tensor& b) {
         return std::pair{a.t(), b.slice(1, 0, 12, 2)};
       }},
      {"0-d with 2-d",
       {},
       {3, 4},
       [](const Tensor& a, const Tensor& b) {
         return std::pair{a.expand({3, 4}), b};
       }},
      {"empty",
       {0, 3},
       {0, 3},
       [](const Tensor& a, const Tensor& b) {
         return std::pair{a, b};
       }},
  };
}

}  // namespace

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : " ") + n;
  return out;
}

// The slots table A fills and table B leaves empty, in declaration order,
// from the missing_kernels lists of A and B.
std::vector<std::string> filled_only_in(const std::vector<std::string>& a_missing,
                                        const std::vector<std::string>& b_missing) {
  auto has = [](const std::vector<std::string>& v, const std::string& name) {
    return std::find(v.begin(), v.end(), name) != v.end();
  };
  std::vector<std::string> out;
  for (const std::string& name : kernel_slot_names())
    if (!has(a_missing, name) && has(b_missing, name)) out.push_back(name);
  return out;
}

}  // namespace

TEST_CASE("the CUDA kernel tables lack exactly the expected slots the CPU's fill") {
  // What issue #14 still has to bring to CUDA, per dtype (update as kernels land).
  // Attention is fused for float32 (#15); float64 keeps the composite formula.
  const std::vector<std::string> float_gaps = {"attention_forward",
                                               "attention_backward"};
  const std::vector<std::pair<DType, std::vector<std::string>>> expected = {
      {kFloat32, {}}, {kFloat64, float_gaps}, {kInt64, {}}, {kBool, {}}};
  for (const auto& [dtype, gaps] : expected) {
    INFO(dtype_name(dtype));
    const std::vector<std::string> cpu = missing_kernels(kCpu, dtype);
    const std::vector<std::string> cuda = missing_kernels(kCuda, dtype);
    const std::vector<std::string> cuda_lacks = filled_only_in(cpu, cuda);
    std::cout << "cuda " << dtype_name(dtype) << " lacks " << cuda_lacks.size()
              << " of the CPU's kernels: " << joined(cuda_lacks) << "\n";
    CHECK_MESSAGE(cuda_lacks == gaps, "got: ", joined(cuda_lacks), "; expected: ", joined(gaps));
    // Nor does CUDA fill a slot the CPU leaves empty (its twin would be untested).
    CHECK_MESSAGE(filled_only_in(cuda, cpu).empty(), joined(filled_only_in(cuda, cpu)));
  }
  const DeviceKernels& dk = device_kernels(kCuda);
  CHECK((dk.copy_across_devices != nullptr));
  CHECK((dk.synchronize != nullptr));
  dk.synchronize();
}

TEST_CASE("host <-> device copies round-trip every dtype and shape") {
  for (DType dtype : kAllDTypes) {
    for (const Shape& shape : {Shape{}, Shape{0, 3}, Shape{7}, Shape{3, 4, 5}}) {
      INFO(dtype_name(dtype) << shape_str(shape));
      Tensor host = random_input(shape, dtype);
      Tensor dev = gpu(host);
      CHECK(dev.device() == kCuda);
      check_close(dev, host);
      CHECK(dev.to(kCpu).to_vector<double>() == host.to_vector<double>());
    }
  }
  // A non-contiguous CUDA tensor is made contiguous on the device first.
  Tensor host = random_input({6, 8}, kFloat32);
  check_close(gpu(host).t(), host.t());
  CHECK(gpu(host).t().to(kCpu).to_vector<float>() == host.t().contiguous().to_vector<float>());
}

TEST_CASE("fill matches the CPU for every dtype, value kind and layout") {
  for (DType dtype : kAllDTypes) {
    for (const Scalar& value : {Scalar(2.5), Scalar(-3), Scalar(true), Scalar(0)}) {
      INFO(dtype_name(dtype) << " value " << value.to_double());
      check_close(full({3, 4}, value, {.dtype = dtype, .device = kCuda}),
                  full({3, 4}, value, {.dtype = dtype}));
      // Filling a strided view leaves the elements between untouched.
      Tensor want = zeros({6, 8}, {.dtype = dtype});
      Tensor got = zeros({6, 8}, {.dtype = dtype, .device = kCuda});
      want.slice(1, 1, 8, 3).fill_(value);
      got.slice(1, 1, 8, 3).fill_(value);
      check_close(got, want);
    }
  }
}

TEST_CASE("copy casts between every pair of dtypes in any layout") {
  for (DType from : kAllDTypes) {
    for (DType to : kAllDTypes) {
      INFO(dtype_name(from) << " -> " << dtype_name(to));
      Tensor src = random_input({6, 8}, from);
      Tensor src_gpu = gpu(src);
      // Public path: to(dtype) of a contiguous tensor and of a transposed one.
      check_close(src_gpu.to(to), src.to(to));
      check_close(src_gpu.t().to(to), src.t().to(to));
      // Kernel path: strided and broadcast sources into a strided destination.
      Tensor want = zeros({8, 12}, {.dtype = to});
      Tensor got = zeros({8, 12}, {.dtype = to, .device = kCuda});
      kernel_table(kCpu, to).copy(want.slice(1, 0, 12, 2), src.t());
      kernel_table(kCuda, to).copy(got.slice(1, 0, 12, 2), src_gpu.t());
      check_close(got, want);
      Tensor row = random_input({1, 6}, from);
      kernel_table(kCpu, to).copy(want.slice(1, 1, 12, 2), row.expand({8, 6}));
      kernel_table(kCuda, to).copy(got.slice(1, 1, 12, 2), gpu(row).expand({8, 6}));
      check_close(got, want);
    }
  }
  Tensor x = random_input({5, 6}, kFloat64);
  check_close(gpu(x).t().clone(), x.t().clone());
  check_close(gpu(x).slice(0, 0, 5, 2).contiguous(), x.slice(0, 0, 5, 2).contiguous());
}

TEST_CASE("unary kernels match the CPU for every op, dtype and layout") {
  for (DType dtype : {kFloat32, kFloat64, kInt64}) {
    for (int o = 0; o < static_cast<int>(UnaryOp::Count); ++o) {
      const UnaryOp op = static_cast<UnaryOp>(o);
      const bool exact = op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Relu;
      // int64 goes through double and back: exp/log/sqrt get inputs they keep in
      // range, and of the activations the ops layer keeps only relu in int64.
      const bool positive = dtype == kInt64 && !exact;
      if (dtype == kInt64 && op > UnaryOp::Abs && op != UnaryOp::Relu) continue;
      const double tol = exact ? 0 : math_tol(dtype);
      for (const Layout& layout : layouts()) {
        INFO(op_name(op) << " " << dtype_name(dtype) << " " << layout.name);
        Tensor a = positive ? random_input(layout.a, dtype, 1, 10) : random_input(layout.a, dtype);
        Tensor a_gpu = gpu(a);
        Tensor in = layout.views(a, a).first, in_gpu = layout.views(a_gpu, a_gpu).first;
        Tensor want = Tensor::empty(in.shape(), dtype, kCpu);
        Tensor got = Tensor::empty(in.shape(), dtype, kCuda);
        kernel_table(kCpu, dtype).unary(op, want, in);
        kernel_table(kCuda, dtype).unary(op, got, in_gpu);
        check_close(got, want, tol, tol);
      }
    }
  }
  Tensor x = random_input({4, 5}, kFloat32);
  check_close(exp(gpu(x)), exp(x), 1e-5);
  check_close(log(abs(gpu(x))), log(abs(x)), 1e-5);
  check_close(sqrt(gpu(x)), sqrt(x), 1e-5);  // NaN for the negatives, on both
  check_close(-gpu(x).t(), -x.t());
  Tensor i = random_input({4, 5}, kInt64);
  check_close(abs(gpu(i)), abs(i));
  check_close(exp(gpu(i)), exp(i), 1e-5);  // promoted to float32
}

TEST_CASE("binary kernels match the CPU for every op, dtype and layout") {
  for (DType dtype : kAllDTypes) {
    for (int o = 0; o < static_cast<int>(BinaryOp::Count); ++o) {
      const BinaryOp op = static_cast<BinaryOp>(o);
      const DType out_dtype = is_comparison(op) ? kBool : dtype;
      const double rtol = op == BinaryOp::Pow ? math_tol(dtype) : 0;
      for (const Layout& layout : layouts()) {
        INFO(op_name(op) << " " << dtype_name(dtype) << " " << layout.name);
        // Comparisons need ties: integer-valued inputs in a small range.
        Tensor a = random_input(layout.a, is_comparison(op) ? kInt64 : dtype, -3, 3).to(dtype);
        Tensor b = random_input(layout.b, is_comparison(op) ? kInt64 : dtype, -3, 3).to(dtype);
        if (op == BinaryOp::Pow && is_floating(dtype)) a = abs(a);  // real results
        auto [va, vb] = layout.views(a, b);
        auto [ga, gb] = layout.views(gpu(a), gpu(b));
        Tensor want = Tensor::empty(va.shape(), out_dtype, kCpu);
        Tensor got = Tensor::empty(va.shape(), out_dtype, kCuda);
        kernel_table(kCpu, dtype).binary(op, want, va, vb);
        kernel_table(kCuda, dtype).binary(op, got, ga, gb);
        check_close(got, want, rtol);
      }
    }
  }
}

TEST_CASE("binary ops through the public API: broadcasting, promotion, scalars, in place") {
  Tensor a = random_input({4, 1, 6}, kFloat32), b = random_input({5, 1}, kFloat64);
  check_close(gpu(a) + gpu(b), a + b);
  check_close(gpu(a) * 2.5 - gpu(b) / 3, a * 2.5 - b / 3);
  check_close(maximum(gpu(a), gpu(b)), maximum(a, b));
  check_close(pow(abs(gpu(a)), 1.5), pow(abs(a), 1.5), 1e-5);
  check_close(lt(gpu(a), gpu(b)), lt(a, b));
  Tensor c = random_input({6, 5}, kFloat32);
  Tensor c_gpu = gpu(c);
  Tensor d = random_input({5, 6}, kFloat32);
  c.t().add_(d);
  c_gpu.t().add_(gpu(d));
  check_close(c_gpu, c);
  c.mul_(3);
  c_gpu.mul_(3);
  check_close(c_gpu, c);
  // True division of integers, with inf and NaN for division by zero.
  Tensor num = tensor(std::vector<int64_t>{7, -7, 0, 5});
  Tensor den = tensor(std::vector<int64_t>{0, 2, 0, -2});
  check_close(div(gpu(num), gpu(den)), div(num, den));
  // Enough elements for the grid-stride loop to take more than one step.
  Tensor big = random_input({4100, 4100}, kFloat32);
  check_close(gpu(big) + gpu(big).t(), big + big.t());
}

TEST_CASE("up to 8 unmergeable dims work, and more throw naming the op") {
  Shape dims8(8, 2), dims9(9, 2);
  std::vector<int64_t> reverse8 = {7, 6, 5, 4, 3, 2, 1, 0}, reverse9 = {8, 7, 6, 5, 4, 3, 2, 1, 0};
  Tensor x8 = random_input(dims8, kFloat32);
  check_close(-gpu(x8).permute(reverse8), -x8.permute(reverse8));
  Tensor x9 = gpu(random_input(dims9, kFloat32)).permute(reverse9);
  CHECK_THROWS_WITH_AS(-x9, doctest::Contains("neg: the CUDA kernels take at most 8"), Error);
}

TEST_CASE("all_finite finds NaN and Inf in any layout") {
  for (DType dtype : {kFloat32, kFloat64}) {
    INFO(dtype_name(dtype));
    Tensor x = random_input({4, 4}, dtype);
    CHECK(gpu(x).all_finite());
    Tensor nan = x.clone(), inf = x.clone();
    nan.slice(0, 0, 1).slice(1, 1, 2).fill_(std::nan(""));
    inf.slice(0, 3, 4).slice(1, 2, 3).fill_(-std::numeric_limits<double>::infinity());
    CHECK_FALSE(gpu(nan).all_finite());
    CHECK_FALSE(gpu(inf).all_finite());
    CHECK(gpu(nan).slice(1, 0, 4, 2).all_finite() == nan.slice(1, 0, 4, 2).all_finite());
    CHECK(gpu(nan).slice(1, 0, 4, 2).all_finite());
    CHECK(gpu(zeros({0})).all_finite());
  }
}

TEST_CASE("rand and randn on CUDA draw the CPU's numbers for the same seed") {
  for (DType dtype : {kFloat32, kFloat64}) {
    // An odd size first, so that the next draw starts at a later counter block.
    for (const Shape& shape : {Shape{7}, Shape{1000, 33}, Shape{(1 << 20) + 3}}) {
      INFO(dtype_name(dtype) << shape_str(shape));
      manual_seed(1234);
      Tensor u = rand(shape, {.dtype = dtype});
      Tensor z = randn(shape, {.dtype = dtype});
      Tensor w = empty(shape, {.dtype = dtype});
      uniform_(w, -2.0, 3.0);
      const RngState after_cpu = get_rng_state();
      manual_seed(1234);
      Tensor u_gpu = rand(shape, {.dtype = dtype, .device = kCuda});
      Tensor z_gpu = randn(shape, {.dtype = dtype, .device = kCuda});
      Tensor w_gpu = empty(shape, {.dtype = dtype, .device = kCuda});
      uniform_(w_gpu, -2.0, 3.0);
      CHECK(get_rng_state() == after_cpu);
      // Uniform draws are integer arithmetic and exact double steps: identical.
      check_close(u_gpu, u);
      check_close(w_gpu, w);
      // Normal draws go through log and cos, whose last bit may differ between
      // CUDA's math library and the host's; nearly all values are identical.
      const double rtol = dtype == kFloat32 ? 1e-6 : 1e-14;
      check_close(z_gpu, z, rtol, rtol);
      const std::vector<double> zg = z_gpu.to_vector<double>(), zc = z.to_vector<double>();
      size_t same = 0;
      for (size_t i = 0; i < zg.size(); ++i) same += zg[i] == zc[i];
      CHECK(same >= zg.size() * 99 / 100);
    }
  }
  // A non-contiguous target on CUDA is filled like the CPU's.
  manual_seed(7);
  Tensor t = zeros({6, 4});
  Tensor view = t.t();
  normal_(view, 1.0, 2.0);
  manual_seed(7);
  Tensor t_gpu = zeros({6, 4}, {.device = kCuda});
  Tensor view_gpu = t_gpu.t();
  normal_(view_gpu, 1.0, 2.0);
  check_close(t_gpu, t, 1e-6, 1e-6);
}

TEST_CASE("matmul on cuBLAS matches OpenBLAS") {
  for (DType dtype : {kFloat32, kFloat64}) {
    INFO(dtype_name(dtype));
    const double tol = dtype == kFloat32 ? 1e-4 : 1e-12;
    auto check_matmul = [&](const Tensor& a, const Tensor& b) {
      check_close(matmul(gpu(a), gpu(b)), matmul(a, b), tol, tol);
    };
    auto r = [&](const Shape& shape) { return random_input(shape, dtype); };
    check_matmul(r({5, 7}), r({7, 3}));
    check_matmul(r({2, 1, 4, 6}), r({3, 6, 5}));  // broadcast batch
    check_matmul(r({7, 5}).t(), r({3, 7}).t());   // transposed operands
    check_matmul(r({10, 14}).slice(0, 0, 10, 2).slice(1, 0, 14, 2), r({7, 3}));  // no unit stride
    check_matmul(r({7}), r({7, 3}));                                             // vector @ matrix
    check_matmul(r({5, 7}), r({7}));                                             // matrix @ vector
    check_matmul(r({1, 7}), r({7, 1}));
    check_matmul(r({3, 0}), r({0, 4}));  // K = 0: zeros
    check_matmul(r({65, 130}), r({130, 33}));
    // A transposed view of a CUDA tensor goes to cuBLAS as transposed, without a copy.
    Tensor a = r({4, 6});
    check_close(matmul(gpu(a).t(), gpu(a)), matmul(a.t(), a), tol, tol);
  }
}

// Without CUDA attention kernels the ops run their composite formulas there;
// they must give the CPU's fused results, forward and backward, masks included.
TEST_CASE("attention on CUDA (fused in float32, the composite in float64) matches the CPU's fused kernels") {
  for (DType dtype : {kFloat32, kFloat64}) {
    for (bool laser : {false, true}) {
      for (bool causal : {false, true}) {
        INFO(dtype_name(dtype) << (laser ? " laser" : " softmax") << (causal ? " causal" : ""));
        const double tol = dtype == kFloat32 ? 1e-5 : 1e-12;
        Tensor q = random_input({2, 3, 5, 4}, dtype) * 0.3, k = random_input({2, 3, 7, 4}, dtype) * 0.3;
        Tensor v = random_input({2, 3, 7, 4}, dtype);
        Tensor mask = lt(rand({5, 7}), 0.8);  // keep 80% of the keys
        AttentionOptions o{.causal = causal, .mask = mask};
        auto run = [&](const Tensor& qq, const Tensor& kk, const Tensor& vv, const AttentionOptions& oo) {
          return laser ? laser_attention(qq, kk, vv, oo) : scaled_dot_product_attention(qq, kk, vv, oo);
        };
        std::vector<Tensor> cpu_in = {q.clone().requires_grad_(), k.clone().requires_grad_(),
                                      v.clone().requires_grad_()};
        std::vector<Tensor> gpu_in = {gpu(q).requires_grad_(), gpu(k).requires_grad_(),
                                      gpu(v).requires_grad_()};
        Tensor g = random_input({2, 3, 5, 4}, dtype);
        Tensor out = run(cpu_in[0], cpu_in[1], cpu_in[2], o);
        AttentionOptions o_gpu = o;
        o_gpu.mask = gpu(mask);
        Tensor out_gpu = run(gpu_in[0], gpu_in[1], gpu_in[2], o_gpu);
        check_close(out_gpu, out, tol, tol);
        out.backward(g);
        out_gpu.backward(gpu(g));
        for (int i = 0; i < 3; ++i) check_close(gpu_in[i].grad(), cpu_in[i].grad(), tol, tol);
      }
    }
  }
}

TEST_CASE("autograd runs on CUDA and gives the CPU's gradients") {
  Tensor x = random_input({3, 4}, kFloat64).requires_grad_();
  Tensor x_gpu = gpu(x).detach().requires_grad_();
  Tensor y = exp(x * 0.1) * x + x;
  Tensor y_gpu = exp(x_gpu * 0.1) * x_gpu + x_gpu;
  y.backward(ones_like(y));
  y_gpu.backward(ones_like(y_gpu));
  check_close(x_gpu.grad(), x.grad(), 1e-13, 1e-13);
}

namespace {

// Relative (and, near 0, absolute) tolerance of the kernels that sum in a
// different order on each device: 1e-5 for float32, 1e-12 for float64, exact
// for integers.
double sum_tol(DType dtype) { return dtype == kFloat32 ? 1e-5 : dtype == kFloat64 ? 1e-12 : 0; }

// Views taken alike of a CPU tensor and of its CUDA copy.
using View = std::function<Tensor(const Tensor&)>;

// The same random floats on both devices as leaves that require grad.
struct LeafPair {
  Tensor cpu, cuda;
};
LeafPair leaves(const Tensor& host) {
  return {host.clone().requires_grad_(), gpu(host).detach().requires_grad_()};
}

// f on CPU leaves and on their CUDA copies: the outputs agree, and so do the
// gradients of the inputs under one random upstream gradient.
void check_forward_backward(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                            const std::vector<Tensor>& inputs, double tol) {
  std::vector<Tensor> cpu_in, cuda_in;
  for (const Tensor& t : inputs) {
    LeafPair p = leaves(t);
    cpu_in.push_back(p.cpu);
    cuda_in.push_back(p.cuda);
  }
  Tensor want = f(cpu_in), got = f(cuda_in);
  check_close(got, want, tol, tol);
  Tensor upstream = random_input(want.shape(), want.dtype());
  want.backward(upstream);
  got.backward(gpu(upstream));
  for (size_t i = 0; i < inputs.size(); ++i) {
    INFO("gradient of input " << i);
    REQUIRE(cuda_in[i].grad().defined() == cpu_in[i].grad().defined());
    if (cpu_in[i].grad().defined()) check_close(cuda_in[i].grad(), cpu_in[i].grad(), tol, tol);
  }
}

// Integer-valued floats in [-3, 3] (ties for max, min and their args), with
// NaN at a few positions when asked.
Tensor tied_input(const Shape& shape, DType dtype, bool with_nan) {
  Tensor x = random_input(shape, kInt64, -3, 3).to(dtype);
  if (with_nan && is_floating(dtype) && x.numel() > 7) {
    Tensor flat = x.reshape({-1});
    flat.slice(0, 3, 4).fill_(std::nan(""));
    flat.slice(0, x.numel() - 2, x.numel() - 1).fill_(std::nan(""));
  }
  return x;
}

// Random int64 indices in [0, size).
Tensor random_index(const Shape& shape, int64_t size) {
  return random_input(shape, kInt64, 0, size - 1);
}

const std::vector<std::pair<const char*, View>>& reduction_views() {
  static const std::vector<std::pair<const char*, View>> views = {
      {"contiguous", [](const Tensor& t) { return t; }},
      {"permuted",
       [](const Tensor& t) {
         return t.permute({2, 0, 1});
       }},
      {"sliced", [](const Tensor& t) { return t.slice(1, 0, 5, 2); }},
      {"broadcast",
       [](const Tensor& t) {
         return t.slice(1, 0, 1).expand({4, 5, 6});
       }},
  };
  return views;
}

}  // namespace

TEST_CASE("sum, max and min over any dims of any layout match the CPU") {
  const std::vector<std::vector<int64_t>> dim_sets = {{0}, {1}, {2}, {0, 2}, {1, 2}, {0, 1, 2}};
  for (DType dtype : {kFloat32, kFloat64, kInt64}) {
    for (const auto& [name, view] : reduction_views()) {
      Tensor x = random_input({4, 5, 6}, dtype);
      Tensor tied = tied_input({4, 5, 6}, dtype, /*with_nan=*/true);
      for (const auto& dims : dim_sets) {
        INFO(dtype_name(dtype) << " " << name << " dims " << shape_str(dims));
        Tensor v = view(x), vg = view(gpu(x));
        check_close(sum(vg, dims), sum(v, dims), sum_tol(dtype), sum_tol(dtype));
        check_close(sum(vg, dims, /*keepdim=*/true), sum(v, dims, true), sum_tol(dtype),
                    sum_tol(dtype));
        if (dims.size() == 1) {
          Tensor t = view(tied), tg = view(gpu(tied));  // NaN wins in max and min
          check_close(max(tg, dims[0]), max(t, dims[0]));
          check_close(min(tg, dims[0]), min(t, dims[0]));
        }
      }
      check_close(max(view(gpu(x))), max(view(x)));
      check_close(min(view(gpu(x))), min(view(x)));
      check_close(sum(view(gpu(x))), sum(view(x)), sum_tol(dtype), sum_tol(dtype));
    }
  }
  // One thread, a warp and a block per output; integer sums wrap around.
  for (const Shape& shape : {Shape{300, 3}, Shape{7, 50}, Shape{3, 20000}, Shape{200000}}) {
    INFO(shape_str(shape));
    Tensor x = random_input(shape, kFloat32);
    check_close(sum(gpu(x), -1), sum(x, -1), 1e-5, 1e-5);
    check_close(sum(gpu(x)), sum(x), 1e-5, 1e-5);
    check_close(max(gpu(x), -1), max(x, -1));
    Tensor d = x.to(kFloat64);
    check_close(sum(gpu(d), 0), sum(d, 0), 1e-12, 1e-12);
  }
  Tensor big = full({4, 3}, Scalar(int64_t{1} << 62), {.dtype = kInt64});
  check_close(sum(gpu(big), 0), sum(big, 0));
  Tensor empty = zeros({0, 3});
  check_close(sum(gpu(empty), 0), sum(empty, 0));
  check_close(sum(gpu(zeros({3, 0})), 1), sum(zeros({3, 0}), 1));
  // A slice of only -inf reduces to -inf.
  Tensor neg = full({2, 3}, -INFINITY);
  check_close(max(gpu(neg), 1), max(neg, 1));
}

TEST_CASE("mean, max and logsumexp backward on CUDA give the CPU's gradients") {
  for (DType dtype : {kFloat32, kFloat64}) {
    INFO(dtype_name(dtype));
    const double tol = sum_tol(dtype);
    check_forward_backward([](const auto& in) { return mean(in[0].t(), 0); },
                           {random_input({6, 4}, dtype)}, tol);
    // Ties share the gradient.
    check_forward_backward([](const auto& in) { return max(in[0], 1); },
                           {tied_input({5, 7}, dtype, false)}, tol);
    check_forward_backward([](const auto& in) { return logsumexp(in[0], 1); },
                           {random_input({5, 7}, dtype)}, tol);
  }
}

TEST_CASE("argmax and argmin match the CPU on ties and NaN in any layout") {
  for (DType dtype : {kFloat32, kFloat64, kInt64}) {
    for (const auto& [name, view] : reduction_views()) {
      for (bool with_nan : {false, true}) {
        Tensor x = tied_input({4, 5, 6}, dtype, with_nan);
        for (int64_t d = 0; d < 3; ++d) {
          INFO(dtype_name(dtype) << " " << name << " dim " << d << " nan " << with_nan);
          check_close(argmax(view(gpu(x)), d), argmax(view(x), d));
          check_close(argmin(view(gpu(x)), d), argmin(view(x), d));
          check_close(argmax(view(gpu(x)), d, true), argmax(view(x), d, true));
        }
        check_close(argmax(view(gpu(x))), argmax(view(x)));
        check_close(argmin(view(gpu(x))), argmin(view(x)));
      }
    }
  }
  // Long slices (a block per output) and many short ones.
  for (const Shape& shape : {Shape{100000}, Shape{2, 30000}, Shape{5000, 3}}) {
    for (bool with_nan : {false, true}) {
      INFO(shape_str(shape) << " nan " << with_nan);
      Tensor x = tied_input(shape, kFloat32, with_nan);
      check_close(argmax(gpu(x), -1), argmax(x, -1));
      check_close(argmin(gpu(x), 0), argmin(x, 0));
      check_close(argmax(gpu(x)), argmax(x));
    }
  }
  Tensor scalar = random_input({}, kFloat32);
  check_close(argmax(gpu(scalar)), argmax(scalar));
}

TEST_CASE("where matches the CPU for every dtype and layout") {
  for (DType dtype : kAllDTypes) {
    for (const Layout& layout : layouts()) {
      INFO(dtype_name(dtype) << " " << layout.name);
      Tensor a = random_input(layout.a, dtype), b = random_input(layout.b, dtype);
      auto [va, vb] = layout.views(a, b);
      auto [ga, gb] = layout.views(gpu(a), gpu(b));
      Tensor cond = random_input(va.shape(), kBool);
      check_close(where(gpu(cond), ga, gb), where(cond, va, vb));
      // A broadcast condition, and a scalar side (masked_fill's form).
      if (va.dim() == 3) {
        Tensor row = random_input({1, 1, va.shape()[2]}, kBool);
        check_close(where(gpu(row), ga, gb), where(row, va, vb));
      }
      check_close(where(gpu(cond), ga, Scalar(1)), where(cond, va, Scalar(1)));
      check_close(masked_fill(ga, gpu(cond), Scalar(0)), masked_fill(va, cond, Scalar(0)));
    }
  }
  check_forward_backward([](const auto& in) { return where(gt(in[0], 0.0), in[0].t(), in[1].t()); },
                         {random_input({5, 5}, kFloat64), random_input({5, 5}, kFloat64)}, 1e-12);
}

TEST_CASE("cumsum forward and backward match the CPU along every dim") {
  for (DType dtype : {kFloat32, kFloat64, kInt64, kBool}) {
    Tensor x = random_input({4, 5, 6}, dtype);
    for (int64_t d = 0; d < 3; ++d) {
      INFO(dtype_name(dtype) << " dim " << d);
      // The same order of additions as the CPU's, in the same accumulator.
      check_close(cumsum(gpu(x), d), cumsum(x, d));
      check_close(cumsum(gpu(x).permute({2, 0, 1}), d), cumsum(x.permute({2, 0, 1}), d));
      check_close(cumsum(gpu(x).slice(2, 0, 6, 4), d), cumsum(x.slice(2, 0, 6, 4), d));
    }
  }
  Tensor long_line = random_input({3, 10000}, kFloat32);
  check_close(cumsum(gpu(long_line), 1), cumsum(long_line, 1));
  Tensor scalar = random_input({}, kFloat64);
  check_close(cumsum(gpu(scalar), 0), cumsum(scalar, 0));
  for (DType dtype : {kFloat32, kFloat64})
    for (int64_t d = 0; d < 2; ++d)
      check_forward_backward([d](const auto& in) { return cumsum(in[0].t(), d); },
                             {random_input({6, 7}, dtype)}, sum_tol(dtype));
}

TEST_CASE("gelu's fused backward matches the CPU in any layout") {
  for (DType dtype : {kFloat32, kFloat64}) {
    const double tol = math_tol(dtype);
    for (GeluApproximate approx : {GeluApproximate::None, GeluApproximate::Tanh}) {
      INFO(dtype_name(dtype) << (approx == GeluApproximate::Tanh ? " tanh" : " erf"));
      check_forward_backward([approx](const auto& in) { return gelu(in[0], approx); },
                             {random_input({7, 9}, dtype)}, tol);
      check_forward_backward([approx](const auto& in) { return gelu(in[0].t(), approx); },
                             {random_input({7, 9}, dtype)}, tol);
      // The kernel itself on strided and broadcast operands.
      const UnaryOp op = approx == GeluApproximate::Tanh ? UnaryOp::GeluTanh : UnaryOp::Gelu;
      Tensor g = random_input({1, 6}, dtype), x = random_input({6, 8}, dtype);
      Tensor want = Tensor::empty({8, 6}, dtype, kCpu), got = Tensor::empty({8, 6}, dtype, kCuda);
      kernel_table(kCpu, dtype).activation_backward(op, want, g.expand({8, 6}), x.t());
      kernel_table(kCuda, dtype).activation_backward(op, got, gpu(g).expand({8, 6}), gpu(x).t());
      check_close(got, want, tol, tol);
    }
  }
}

TEST_CASE("index_select, index_add, gather and scatter_add match the CPU") {
  for (DType dtype : kAllDTypes) {
    Tensor x = random_input({4, 5, 6}, dtype);
    for (int64_t d = 0; d < 3; ++d) {
      INFO(dtype_name(dtype) << " dim " << d);
      const int64_t n = x.shape()[d];
      Tensor index = random_index({7}, n);  // 7 > n: repeats
      check_close(index_select(gpu(x), d, gpu(index)), index_select(x, d, index));
      Tensor xp = x.permute({1, 2, 0});  // [5,6,4]
      Tensor pindex = random_index({7}, xp.shape()[d]);
      check_close(index_select(gpu(x).permute({1, 2, 0}), d, gpu(pindex)),
                  index_select(xp, d, pindex));
      // gather reads a smaller index block of a non-contiguous input.
      Tensor xt = x.permute({2, 1, 0});  // [6,5,4]
      Shape ishape = {3, 4, 2};
      ishape[d] = 6;
      Tensor gidx = random_index(ishape, xt.shape()[d]);
      check_close(gather(gpu(x).permute({2, 1, 0}), d, gpu(gidx)), gather(xt, d, gidx));
      if (dtype == kBool) continue;  // the CPU has no adding kernels for bool
      // Integer sums are exact whatever the order of the atomic adds.
      const double tol = sum_tol(dtype);
      Shape sshape = x.shape();
      sshape[d] = 7;
      Tensor src = random_input(sshape, dtype);
      check_close(index_add(gpu(x), d, gpu(index), gpu(src)), index_add(x, d, index, src), tol,
                  tol);
      Tensor ssrc = random_input({6, 6, 6}, dtype).permute({1, 0, 2});
      Tensor sidx = random_index(ishape, x.shape()[d]);
      check_close(scatter_add(gpu(x), d, gpu(sidx), gpu(ssrc)), scatter_add(x, d, sidx, ssrc), tol,
                  tol);
    }
  }
  for (DType dtype : {kFloat32, kFloat64}) {
    INFO(dtype_name(dtype));
    const double tol = sum_tol(dtype);
    Tensor index = random_index({9}, 5), gidx = random_index({4, 3}, 5);
    // Backward of index_select is index_add; of gather, scatter_add (repeated indices).
    check_forward_backward(
        [&](const auto& in) { return index_select(in[0].t(), 0, index.to(in[0].device())); },
        {random_input({4, 5}, dtype)}, tol);
    check_forward_backward(
        [&](const auto& in) { return gather(in[0].t(), 0, gidx.to(in[0].device())); },
        {random_input({3, 5}, dtype)}, tol);
    check_forward_backward(
        [&](const auto& in) { return index_add(in[0], 1, index.to(in[0].device()), in[1]); },
        {random_input({3, 5}, dtype), random_input({3, 9}, dtype)}, tol);
    check_forward_backward(
        [&](const auto& in) { return scatter_add(in[0], 0, gidx.to(in[0].device()), in[1]); },
        {random_input({5, 3}, dtype), random_input({6, 4}, dtype)}, tol);
    Tensor ids = random_index({3, 4}, 6);
    check_forward_backward(
        [&](const auto& in) { return embedding(ids.to(in[0].device()), in[0], 2); },
        {random_input({6, 5}, dtype)}, tol);
  }
  // Many adds to few targets: the atomic path under contention.
  Tensor many = random_index({100000}, 3);
  Tensor ones_src = ones({100000, 2}, {.dtype = kInt64});
  Tensor target = zeros({3, 2}, {.dtype = kInt64});
  check_close(index_add(gpu(target), 0, gpu(many), gpu(ones_src)),
              index_add(target, 0, many, ones_src));
}

TEST_CASE("softmax and log_softmax forward and backward match the CPU") {
  for (DType dtype : {kFloat32, kFloat64}) {
    const double tol = sum_tol(dtype);
    for (bool log : {false, true}) {
      auto f = [log](const Tensor& x, int64_t d) {
        return log ? log_softmax(x, d) : softmax(x, d);
      };
      // Rows of 5 (a thread each), 33 (a warp), 10000 (a block); other dims (a thread per lane).
      const std::vector<std::pair<Shape, int64_t>> cases = {
          {{9, 5}, 1}, {{7, 33}, 1}, {{3, 10000}, 1}, {{4, 6, 5}, 1}, {{4, 6, 5}, 0}, {{5}, 0}};
      for (const auto& [shape, d] : cases) {
        INFO(dtype_name(dtype) << (log ? " log_softmax " : " softmax ") << shape_str(shape)
                               << " dim " << d);
        Tensor x = random_input(shape, dtype);
        if (x.dim() >= 2) {
          // A row (or lane) of only -inf gives 0; a partly masked one is finite.
          x.select(1 - d, 0).fill_(-INFINITY);
          x.select(1 - d, 1).slice(0, 0, 2).fill_(-INFINITY);
        }
        check_forward_backward([&](const auto& in) { return f(in[0], d); }, {x}, tol);
      }
      INFO("non-contiguous input");
      check_forward_backward([&](const auto& in) { return f(in[0].t(), 1); },
                             {random_input({12, 8}, dtype)}, tol);
    }
  }
}

TEST_CASE("layer_norm forward and backward match the CPU") {
  for (DType dtype : {kFloat32, kFloat64}) {
    const double tol = sum_tol(dtype);
    // Rows of 4 (a thread each), 32 (a warp), 9000 (a block); 600 rows span
    // several chunks of the dweight and dbias sums.
    for (const Shape& shape : {Shape{10, 4}, Shape{6, 32}, Shape{2, 9000}, Shape{600, 8}}) {
      INFO(dtype_name(dtype) << " " << shape_str(shape));
      const Shape norm = {shape[1]};
      Tensor x = random_input(shape, dtype), w = random_input(norm, dtype);
      Tensor b = random_input(norm, dtype);
      check_forward_backward(
          [&](const auto& in) { return layer_norm(in[0], norm, in[1], in[2], 1e-5); }, {x, w, b},
          tol);
      check_forward_backward([&](const auto& in) { return layer_norm(in[0], norm); }, {x}, tol);
      check_forward_backward([&](const auto& in) { return layer_norm(in[0], norm, in[1]); }, {x, w},
                             tol);
    }
    INFO(dtype_name(dtype) << " two normalized dims of a transposed input");
    check_forward_backward(
        [](const auto& in) {
          return layer_norm(in[0].permute({2, 0, 1}), {3, 4}, in[1], in[2]);
        },
        {random_input({3, 4, 5}, dtype), random_input({3, 4}, dtype), random_input({3, 4}, dtype)},
        tol);
  }
}

TEST_CASE("cross_entropy and nll_loss forward and backward match the CPU") {
  for (DType dtype : {kFloat32, kFloat64}) {
    const double tol = sum_tol(dtype);
    for (int64_t C : {5, 40, 9000}) {
      Tensor target = random_index({6}, C);
      target.slice(0, 2, 3).fill_(-100);  // ignored
      Tensor logits = random_input({6, C}, dtype);
      logits.slice(0, 4, 5).fill_(-INFINITY);  // a row of -inf but for one class
      logits.slice(0, 4, 5).slice(1, 0, 1).fill_(1.0);
      for (double smoothing : {0.0, 0.1}) {
        for (Reduction reduction : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
          INFO(dtype_name(dtype) << " C " << C << " smoothing " << smoothing << " reduction "
                                 << static_cast<int>(reduction));
          const CrossEntropyOptions o{.label_smoothing = smoothing, .reduction = reduction};
          check_forward_backward(
              [&](const auto& in) { return cross_entropy(in[0], target.to(in[0].device()), o); },
              {logits}, tol);
          const NllLossOptions n{.reduction = reduction};
          check_forward_backward(
              [&](const auto& in) {
                return nll_loss(log_softmax(in[0], 1), target.slice(0, 0, 4).to(in[0].device()), n);
              },
              {logits.slice(0, 0, 4)}, tol);
        }
      }
    }
    INFO(dtype_name(dtype) << " 3-d logits with a transposed view");
    Tensor target = random_index({2, 3}, 4);
    check_forward_backward(
        [&](const auto& in) {
          return cross_entropy(in[0].transpose(0, 1), target.to(in[0].device()));
        },
        {random_input({3, 2, 4}, dtype)}, tol);
  }
}

TEST_CASE("the fused adam_step on CUDA gives the CPU's bits") {
  for (DType dtype : {kFloat32, kFloat64}) {
    const double tol = sum_tol(dtype);
    for (bool decoupled : {false, true}) {
      for (double decay : {0.0, 0.01}) {
        INFO(dtype_name(dtype) << " decoupled " << decoupled << " weight_decay " << decay);
        const AdamStepArgs args{.lr = 1e-2,
                                .weight_decay = decay,
                                .decoupled = decoupled,
                                .bias_correction1 = 1 - 0.9 * 0.9,
                                .bias_correction2 = 1 - 0.999 * 0.999};
        Tensor p = random_input({37, 5}, dtype), g = random_input({37, 5}, dtype);
        Tensor m = random_input({37, 5}, dtype), v = abs(random_input({37, 5}, dtype));
        Tensor pg = gpu(p), gg = gpu(g), mg = gpu(m), vg = gpu(v);
        adam_step(p, g, m, v, args);
        adam_step(pg, gg, mg, vg, args);
        check_close(pg, p, tol, tol);
        check_close(mg, m, tol, tol);
        check_close(vg, v, tol, tol);
      }
    }
  }
}

TEST_CASE("linear on cuBLAS matches the CPU, with and without bias") {
  for (DType dtype : {kFloat32, kFloat64}) {
    INFO(dtype_name(dtype));
    // cuBLAS sums the products in its own order, as for matmul.
    const double tol = dtype == kFloat32 ? 1e-4 : 1e-12;
    auto r = [&](const Shape& shape) { return random_input(shape, dtype); };
    auto with_bias = [](const auto& in) { return linear(in[0], in[1], in[2]); };
    auto without_bias = [](const auto& in) { return linear(in[0], in[1]); };
    check_forward_backward(with_bias, {r({5, 7}), r({3, 7}), r({3})}, tol);
    check_forward_backward(without_bias, {r({5, 7}), r({3, 7})}, tol);
    check_forward_backward(with_bias, {r({2, 4, 7}), r({3, 7}), r({3})}, tol);
    check_forward_backward(with_bias, {r({65, 130}), r({33, 130}), r({33})}, tol);
    // Transposed and strided operands, and a strided bias.
    check_forward_backward([](const auto& in) { return linear(in[0].t(), in[1].t(), in[2]); },
                           {r({7, 5}), r({7, 3}), r({3})}, tol);
    check_forward_backward(
        [](const auto& in) {
          return linear(in[0].slice(1, 0, 14, 2), in[1].slice(0, 0, 6, 2), in[2].slice(0, 0, 6, 2));
        },
        {r({5, 14}), r({6, 7}), r({6})}, tol);
    // K = 0: the bias alone, or zeros.
    Tensor x0 = r({4, 0}), w0 = r({3, 0}), b0 = r({3});
    check_close(linear(gpu(x0), gpu(w0), gpu(b0)), linear(x0, w0, b0));
    check_close(linear(gpu(x0), gpu(w0)), linear(x0, w0));
  }
  // Mixed dtypes promote before the kernel.
  Tensor x = random_input({4, 3}, kFloat32), w = random_input({2, 3}, kFloat64);
  check_close(linear(gpu(x), gpu(w)), linear(x, w), 1e-12, 1e-12);
}

TEST_CASE("float32 products on CUDA round to TF32 only while allow_tf32 is on") {
  REQUIRE_FALSE(allow_tf32());
  Tensor a = random_input({64, 256}, kFloat32), b = random_input({256, 48}, kFloat32);
  Tensor w = random_input({48, 256}, kFloat32);
  Tensor want = matmul(a.to(kFloat64), b.to(kFloat64)).to(kFloat32);
  Tensor want_linear = linear(a.to(kFloat64), w.to(kFloat64)).to(kFloat32);
  // Full float32 products: sums of 256 terms of about 10, in cuBLAS's order.
  check_close(matmul(gpu(a), gpu(b)), want, 1e-4, 1e-3);
  check_close(linear(gpu(a), gpu(w)), want_linear, 1e-4, 1e-3);
  struct Tf32On {
    Tf32On() { set_allow_tf32(true); }
    ~Tf32On() { set_allow_tf32(false); }
  };
  Tensor tf32_matmul, tf32_linear;
  {
    Tf32On on;
    tf32_matmul = matmul(gpu(a), gpu(b));
    tf32_linear = linear(gpu(a), gpu(w));
  }
  CHECK_FALSE(allow_tf32());
  // TF32 keeps 10 of float32's 23 mantissa bits of each operand.
  check_close(tf32_matmul, want, 1e-2, 0.5);
  check_close(tf32_linear, want_linear, 1e-2, 0.5);
}

TEST_CASE("dropout_mask on CUDA gives the CPU's mask bit for bit") {
  for (DType dtype : {kFloat32, kFloat64}) {
    for (const Shape& shape : {Shape{7}, Shape{33, 65}, Shape{(1 << 18) + 3}}) {
      // Offset 5 starts inside a Philox block (the CPU's element-by-element path).
      for (uint64_t offset : {uint64_t{0}, uint64_t{8}, uint64_t{5}}) {
        for (double p : {0.1, 0.5}) {
          INFO(dtype_name(dtype) << shape_str(shape) << " offset " << offset << " p " << p);
          Tensor want = Tensor::empty(shape, dtype, kCpu), got = Tensor::empty(shape, dtype, kCuda);
          kernel_table(kCpu, dtype).dropout_mask(want, p, 1234, offset);
          kernel_table(kCuda, dtype).dropout_mask(got, p, 1234, offset);
          check_close(got, want);
        }
      }
    }
  }
  Tensor x = random_input({40, 50}, kFloat32);
  manual_seed(99);
  Tensor want = dropout(x, 0.3);
  const RngState after_cpu = get_rng_state();
  manual_seed(99);
  Tensor got = dropout(gpu(x), 0.3);
  CHECK(get_rng_state() == after_cpu);
  check_close(got, want);
}

TEST_CASE("multinomial on CUDA draws the CPU's samples for the same seed") {
  for (DType dtype : {kFloat32, kFloat64}) {
    for (const Shape& shape : {Shape{10}, Shape{7, 50}, Shape{3, 5000}}) {
      Tensor probs = rand(shape, {.dtype = dtype});
      probs.select(-1, 1).fill_(0.0);  // a category never drawn
      for (bool replacement : {true, false}) {
        const int64_t S = replacement ? 300 : shape.back() / 2;
        INFO(dtype_name(dtype) << shape_str(shape) << " replacement " << replacement);
        manual_seed(5);
        Tensor want = multinomial(probs, S, replacement);
        manual_seed(5);
        Tensor got = multinomial(gpu(probs), S, replacement);
        check_close(got, want);
      }
    }
  }
  // Weights near the largest double: scaled by each row's largest, as on the CPU.
  Tensor huge = rand({2, 6}, {.dtype = kFloat64}) * 1e308;
  for (bool replacement : {true, false}) {
    manual_seed(11);
    Tensor want = multinomial(huge, 4, replacement);
    manual_seed(11);
    check_close(multinomial(gpu(huge), 4, replacement), want);
  }
}

TEST_CASE("bad probabilities in multinomial on CUDA are reported at the next synchronisation") {
  auto check_reported = [](const Tensor& probs, int64_t S, bool replacement, const char* what) {
    INFO(what);
    Tensor draws = multinomial(gpu(probs), S, replacement);  // returns without reading probs
    CHECK_THROWS_WITH_AS(cuda::synchronize(), doctest::Contains(what), Error);
    const int64_t C = probs.shape().back();
    for (int64_t d : draws.to(kCpu).to_vector<int64_t>()) CHECK((d >= 0 && d < C));
  };
  check_reported(from_vector<double>({0.5, 0.5, 0.2, -0.1, 0.3, 0.1}, {2, 3}), 4, true,
                 "multinomial: row 1 of probs has a negative, NaN or infinite value (at column 0)");
  check_reported(from_vector<float>({0.2f, NAN, 0.1f}, {3}), 2, false,
                 "multinomial: row 0 of probs has a negative, NaN or infinite value (at column 1)");
  check_reported(from_vector<float>({1, 1, 1, 0, 0, INFINITY}, {2, 3}), 3, true,
                 "multinomial: row 1 of probs has a negative, NaN or infinite value (at column 2)");
  check_reported(from_vector<double>({1, 1, 0, 0}, {2, 2}), 1, false,
                 "multinomial: row 1 of probs sums to 0");
  check_reported(from_vector<double>({0, 1, 0}, {3}), 2, false,
                 "multinomial: row 0 of probs has fewer categories with non-zero probability (1) "
                 "than the 2 samples to draw without replacement");
  cuda::synchronize();
}

TEST_CASE("topk on CUDA selects and orders as the CPU, ties, NaN and signed zeros included") {
  for (DType dtype : {kFloat32, kFloat64, kInt64}) {
    for (const Shape& shape : {Shape{9}, Shape{6, 40}, Shape{3, 5000}}) {
      for (bool with_nan : {false, true}) {
        for (const Tensor& x : {tied_input(shape, dtype, with_nan), random_input(shape, dtype)}) {
          for (int64_t k : {int64_t{1}, int64_t{5}, shape.back()}) {
            for (bool largest : {true, false}) {
              INFO(dtype_name(dtype) << shape_str(shape) << " nan " << with_nan << " k " << k
                                     << " largest " << largest);
              const TopK want = topk(x, k, -1, largest), got = topk(gpu(x), k, -1, largest);
              check_close(got.values, want.values);
              check_close(got.indices, want.indices);
            }
          }
        }
      }
    }
  }
  // -0 ties with +0 (by index), infinities rank as numbers.
  Tensor z = tensor(std::vector<double>{0.0, -0.0, 1.0, -INFINITY, 0.0, INFINITY, -0.0, NAN});
  for (bool largest : {true, false}) {
    const TopK want = topk(z, 8, 0, largest), got = topk(gpu(z), 8, 0, largest);
    check_close(got.indices, want.indices);
    check_close(got.values, want.values);
  }
  Tensor x = random_input({5, 6, 7}, kFloat64);
  check_close(topk(gpu(x), 3, 1).indices, topk(x, 3, 1).indices);
  check_close(topk(gpu(x), 2, 0, false).values, topk(x, 2, 0, false).values);
  check_forward_backward([](const auto& in) { return topk(in[0].t(), 3, 1).values; },
                         {random_input({6, 5}, kFloat64)}, 0);
}

namespace {

// A convolution's shapes and window; PyTorch's output size.
struct ConvCase {
  Shape x, w;
  Conv2dOptions o;
  ConvGeometry geometry() const {
    return {.kernel = {w[2], w[3]},
            .stride = {o.stride[0], o.stride[1]},
            .padding = {o.padding[0], o.padding[1]},
            .dilation = {o.dilation[0], o.dilation[1]},
            .groups = o.groups};
  }
  int64_t out(int a) const {
    return (x[2 + a] + 2 * o.padding[a] - o.dilation[a] * (w[2 + a] - 1) - 1) / o.stride[a] + 1;
  }
};

// Padding, stride, dilation and groups alone and together; depthwise; a
// kernel as large as the padded input; many positions per weight element.
const std::vector<ConvCase> kConvCases = {
    {{2, 3, 7, 6}, {4, 3, 3, 3}, {}},
    {{2, 3, 7, 6}, {4, 3, 3, 2}, {.stride = {2, 1}, .padding = {1, 2}}},
    {{1, 4, 9, 8},
     {6, 2, 3, 3},
     {.stride = {2, 3}, .padding = {2, 1}, .dilation = {2, 1}, .groups = 2}},
    {{3, 6, 8, 8}, {6, 1, 3, 3}, {.padding = {1, 1}, .groups = 6}},
    {{2, 2, 3, 4}, {3, 2, 5, 6}, {.padding = {1, 1}}},
    {{4, 1, 70, 70}, {2, 1, 3, 3}, {.stride = {1, 2}, .dilation = {2, 2}}},
};

}  // namespace

TEST_CASE("im2col, col2im and the direct convolution kernels match the CPU") {
  for (DType dtype : {kFloat32, kFloat64}) {
    for (const ConvCase& c : kConvCases) {
      INFO(dtype_name(dtype) << " x " << shape_str(c.x) << " w " << shape_str(c.w) << " groups "
                             << c.o.groups);
      const ConvGeometry g = c.geometry();
      const Shape out_shape = {c.x[0], c.w[0], c.out(0), c.out(1)};
      const Shape cols_shape = {c.x[0], c.x[1] * c.w[2] * c.w[3], c.out(0) * c.out(1)};
      Tensor x = random_input(c.x, dtype), w = random_input(c.w, dtype);
      Tensor cols = random_input(cols_shape, dtype), gy = random_input(out_shape, dtype);
      // run(table, result, on) runs one kernel, its inputs placed by on(cpu tensor).
      auto compare = [&](const Shape& shape, double tol, const auto& run) {
        Tensor want = Tensor::empty(shape, dtype, kCpu), got = Tensor::empty(shape, dtype, kCuda);
        run(kernel_table(kCpu, dtype), want, [](const Tensor& t) { return t; });
        run(kernel_table(kCuda, dtype), got, gpu);
        check_close(got, want, tol, tol);
      };
      // Copies, and sums in the CPU's order (no FMA on either side): the same bits.
      compare(cols_shape, 0,
              [&](const KernelTable& k, const Tensor& o, auto on) { k.im2col(o, on(x), g); });
      compare(c.x, 0,
              [&](const KernelTable& k, const Tensor& o, auto on) { k.col2im(o, on(cols), g); });
      compare(out_shape, 0, [&](const KernelTable& k, const Tensor& o, auto on) {
        k.conv2d_direct(o, on(x), on(w), g);
      });
      compare(c.x, 0, [&](const KernelTable& k, const Tensor& o, auto on) {
        k.conv2d_direct_backward_input(o, on(gy), on(w), g);
      });
      // One dot product per weight element, summed in another order (in T on
      // both devices): the rounding grows with the number of terms.
      const double terms = static_cast<double>(c.x[0] * c.out(0) * c.out(1));
      compare(c.w, sum_tol(dtype) * 0.3 * terms,
              [&](const KernelTable& k, const Tensor& o, auto on) {
                k.conv2d_direct_backward_weight(o, on(gy), on(x), g);
              });
    }
  }
}

TEST_CASE("conv2d forward and backward on CUDA match the CPU, through im2col and direct") {
  for (DType dtype : {kFloat32, kFloat64}) {
    // cuBLAS sums the im2col path's products in its own order, the weight
    // gradients over up to 200 terms (the last case, of 9000 per weight, is
    // for the kernel test above).
    const double tol = dtype == kFloat32 ? 1e-3 : 1e-11;
    for (const ConvCase& c : std::vector<ConvCase>(kConvCases.begin(), kConvCases.end() - 1)) {
      for (ConvAlgorithm algorithm : {ConvAlgorithm::Im2col, ConvAlgorithm::Direct}) {
        INFO(dtype_name(dtype) << " x " << shape_str(c.x) << " w " << shape_str(c.w)
                               << (algorithm == ConvAlgorithm::Direct ? " direct" : " im2col"));
        Conv2dOptions o = c.o;
        o.algorithm = algorithm;
        check_forward_backward(
            [&](const auto& in) { return conv2d(in[0], in[1], in[2], o); },
            {random_input(c.x, dtype), random_input(c.w, dtype), random_input({c.w[0]}, dtype)},
            tol);
      }
    }
  }
}

TEST_CASE("ctc_loss on CUDA matches the CPU, loss and gradient, impossible alignments included") {
  for (DType dtype : {kFloat32, kFloat64}) {
    // Log-space sums over the frames through exp and log1p, whose last bits
    // differ between the devices' math libraries, and float32 grads that are
    // exponentials of differences of sums of ~1e2.
    const double tol = dtype == kFloat32 ? 2e-3 : 1e-10;
    for (int64_t blank : {int64_t{0}, int64_t{4}}) {
      // Per sample: input and target lengths; sample 0 repeats labels (blanks
      // forced between), 3 is empty, 4 too short for its labels (infinite
      // loss), 5 has labels but no frames (infinite).
      struct Problem {
        int64_t T, C, S;
        std::vector<int64_t> in_len, tg_len;
      };
      for (const Problem& pr : {Problem{12, 5, 4, {12, 12, 7, 0, 3, 0}, {4, 2, 3, 0, 4, 1}},
                                Problem{320, 8, 140, {320, 300}, {140, 100}}}) {
        const int64_t N = static_cast<int64_t>(pr.in_len.size());
        INFO(dtype_name(dtype) << " blank " << blank << " T " << pr.T << " S " << pr.S);
        Tensor lp = log_softmax(random_input({pr.T, N, pr.C}, dtype), 2);
        // Labels in [0, C) other than the blank.
        Tensor raw = random_index({N, pr.S}, pr.C - 1);
        Tensor targets = raw + ge(raw, Scalar(blank)).to(kInt64);
        if (pr.T == 12) {
          const int64_t l = blank == 0 ? 1 : 0;
          targets.select(0, 0).slice(0, 0, 3).fill_(l);
        }
        Tensor in_len = tensor(pr.in_len), tg_len = tensor(pr.tg_len);
        Tensor loss = Tensor::empty({N}, dtype, kCpu),
               grad = Tensor::empty(lp.shape(), dtype, kCpu);
        Tensor loss_gpu = Tensor::empty({N}, dtype, kCuda);
        Tensor grad_gpu = Tensor::empty(lp.shape(), dtype, kCuda);
        kernel_table(kCpu, dtype).ctc_loss(loss, grad, lp, targets, in_len, tg_len, blank);
        kernel_table(kCuda, dtype)
            .ctc_loss(loss_gpu, grad_gpu, gpu(lp), gpu(targets), gpu(in_len), gpu(tg_len), blank);
        check_close(loss_gpu, loss, tol, tol);
        check_close(grad_gpu, grad, tol, tol);
        // Without the gradient, the loss alone.
        Tensor loss_only = Tensor::empty({N}, dtype, kCuda);
        kernel_table(kCuda, dtype)
            .ctc_loss(loss_only, Tensor(), gpu(lp), gpu(targets), gpu(in_len), gpu(tg_len), blank);
        check_close(loss_only, loss, tol, tol);
        if (pr.T == 12) {
          CHECK(std::isinf(loss.to_vector<double>()[4]));
          CHECK(std::isinf(loss.to_vector<double>()[5]));
        }
        for (Reduction reduction : {Reduction::Mean, Reduction::Sum, Reduction::None})
          for (bool zero_infinity : {false, true}) {
            INFO("reduction " << static_cast<int>(reduction) << " zero_infinity " << zero_infinity);
            const CtcLossOptions o{
                .blank = blank, .reduction = reduction, .zero_infinity = zero_infinity};
            check_forward_backward(
                [&](const auto& in) {
                  const Device d = in[0].device();
                  return ctc_loss(in[0], targets.to(d), in_len.to(d), tg_len.to(d), o);
                },
                {lp}, tol);
          }
      }
    }
  }
}

TEST_CASE("lg::cuda's memory_stats follow an allocation, empty_cache returns the cached blocks") {
  CHECK(cuda::is_available());
  cuda::synchronize();
  const cuda::MemoryStats before = cuda::memory_stats();
  const size_t nbytes = size_t{4} << 20;
  {
    Tensor x = zeros({static_cast<int64_t>(nbytes / sizeof(float))}, {.device = kCuda});
    const cuda::MemoryStats held = cuda::memory_stats();
    CHECK(held.allocated >= before.allocated + nbytes);
    CHECK(held.peak_allocated >= held.allocated);
  }
  const cuda::MemoryStats freed = cuda::memory_stats();
  CHECK(freed.allocated == before.allocated);
  CHECK(freed.cached >= nbytes);
  cuda::empty_cache();
  CHECK(cuda::memory_stats().cached == 0);
  CHECK(cuda::memory_stats().allocated == before.allocated);
  cuda::synchronize();
}

TEST_CASE("misuse on CUDA throws lg::Error naming the op") {
  Tensor x = gpu(random_input({3}, kFloat32));
  // No backend has integer matrix products: the lookup names the table and its gaps.
  CHECK_THROWS_WITH_AS(kernel(&KernelTable::matmul, kCuda, kInt64, "matmul"),
                       doctest::Contains("matmul: not implemented for int64 on cuda:0"), Error);
  CHECK_THROWS_AS(x + random_input({3}, kFloat32), Error);  // devices differ
  const Device missing = Device::cuda(cuda::device_count());
  CHECK_THROWS_WITH_AS(zeros({2}, {.device = missing}), doctest::Contains(missing.str().c_str()), Error);
}

TEST_CASE("the current device, set_device and DeviceGuard") {
  const int n = cuda::device_count();
  CHECK(n == cuda_device_count());
  const int before = cuda::current_device();
  {
    cuda::DeviceGuard guard(n - 1);
    CHECK(cuda::current_device() == n - 1);
    cuda::synchronize();  // the current device
  }
  CHECK(cuda::current_device() == before);
  CHECK_THROWS_WITH_AS(cuda::set_device(n), doctest::Contains("does not exist"), Error);
  CHECK_THROWS_AS(cuda::DeviceGuard{-2}, Error);
  CHECK_THROWS_AS(cuda::synchronize(n), Error);
  CHECK_THROWS_AS(cuda::memory_stats(n), Error);
  CHECK(cuda::current_device() == before);
}

TEST_CASE("a kernel on cuda:0 leaves no error at the next synchronisation") {
  Tensor table = gpu(random_input({5, 3}, kFloat32));
  Tensor ids = gpu(from_vector<int64_t>({4, 0, 2}, {3}));
  Tensor out = embedding(ids, table);
  cuda::synchronize(0);
  check_close(out.to(kCpu), embedding(ids.to(kCpu), table.to(kCpu)));
}

TEST_CASE("a bad index is reported at the next synchronisation, naming the op") {
  Tensor table = gpu(random_input({65, 4}, kFloat32));
  Tensor ids = gpu(from_vector<int64_t>({1, 70000, 3}, {3}));
  Tensor out = embedding(ids, table);  // returns without waiting for the device
  CHECK_THROWS_WITH_AS(cuda::synchronize(),
                       doctest::Contains("embedding: index 70000 out of range [0, 65)"), Error);
  cuda::synchronize();  // reported once, then cleared
  Tensor x = gpu(random_input({4, 6}, kFloat32));
  Tensor bad = gpu(from_vector<int64_t>({0, -1}, {2}));
  Tensor picked = index_select(x, 1, bad);
  // A device -> host copy is a synchronisation point too.
  CHECK_THROWS_WITH_AS(picked.to(kCpu),
                       doctest::Contains("index_select: index -1 out of range [0, 6)"), Error);
  cuda::synchronize();
}

TEST_CASE(
    "a bad class target in cross_entropy or nll_loss is reported at the next synchronisation") {
  Tensor logits = gpu(random_input({4, 5}, kFloat32)).requires_grad_(true);
  Tensor bad = gpu(from_vector<int64_t>({1, 7, -100, 2}, {4}));
  Tensor loss = cross_entropy(logits, bad);  // returns without reading the targets back
  CHECK_THROWS_WITH_AS(
      cuda::synchronize(),
      doctest::Contains("cross_entropy: target 7 (at flat index 1) out of range [0, 5)"), Error);
  cuda::synchronize();  // reported once, then cleared
  loss.backward();      // the bad row gets no gradient, and is reported again
  CHECK_THROWS_WITH_AS(cuda::synchronize(), doctest::Contains("cross_entropy backward: target 7"),
                       Error);
  CHECK(logits.grad().to(kCpu).select(0, 1).abs().sum().item<double>() == 0.0);
  Tensor lp = gpu(log_softmax(random_input({3, 5}, kFloat64), 1));
  Tensor picked =
      nll_loss(lp, gpu(from_vector<int64_t>({0, -3, 4}, {3})), {.reduction = Reduction::None});
  CHECK_THROWS_WITH_AS(
      picked.to(kCpu),
      doctest::Contains("nll_loss: target -3 (at flat index 1) out of range [0, 5)"), Error);
  cuda::synchronize();
  CHECK(picked.to(kCpu).to_vector<double>()[1] == 0.0);  // the bad target's loss is 0
}

TEST_CASE("the Mean over targets not ignore_index matches the CPU, NaN when all are ignored") {
  for (DType dtype : {kFloat32, kFloat64}) {
    INFO(dtype_name(dtype));
    const double tol = sum_tol(dtype);
    Tensor logits = random_input({7, 6}, dtype);
    Tensor target = from_vector<int64_t>({3, 0, 3, 5, 1, 3, 2}, {7});
    const CrossEntropyOptions ce{.ignore_index = 3, .label_smoothing = 0.1};
    check_forward_backward(
        [&](const auto& in) { return cross_entropy(in[0], target.to(in[0].device()), ce); },
        {logits}, tol);
    const NllLossOptions nll{.ignore_index = 3};
    check_forward_backward(
        [&](const auto& in) {
          return nll_loss(log_softmax(in[0], 1), target.to(in[0].device()), nll);
        },
        {logits}, tol);
    // The composite backward (create_graph) divides by the count on the device too.
    auto second_order = [&](const Tensor& x) {
      Tensor leaf = x.detach().requires_grad_(true);
      Tensor g =
          grad({cross_entropy(leaf, target.to(x.device()), ce)}, {leaf}, {.create_graph = true})[0];
      return grad({sum(g * g)}, {leaf})[0];
    };
    check_close(second_order(gpu(logits)), second_order(logits), tol, tol);
    Tensor ignored = full({3}, int64_t{-100}, {.dtype = kInt64});
    Tensor x = random_input({3, 6}, dtype);
    CHECK(std::isnan(cross_entropy(gpu(x), gpu(ignored)).item<double>()));
    CHECK(std::isnan(nll_loss(gpu(x), gpu(ignored)).item<double>()));
  }
}

TEST_CASE("a bad length or label in ctc_loss is reported at the next synchronisation") {
  Tensor lp = gpu(log_softmax(random_input({6, 2, 4}, kFloat32), 2)).requires_grad_(true);
  Tensor targets = gpu(from_vector<int64_t>({1, 2, 3, 1, 1, 0}, {2, 3}));
  Tensor in_len = gpu(from_vector<int64_t>({6, 6}, {2}));
  Tensor tg_len = gpu(from_vector<int64_t>({3, 2}, {2}));
  auto loss_of = [&](const Tensor& t, const Tensor& il, const Tensor& tl) {
    return ctc_loss(lp, t, il, tl, {.reduction = Reduction::None});
  };
  Tensor loss = loss_of(targets, gpu(from_vector<int64_t>({6, 7}, {2})), tg_len);
  CHECK_THROWS_WITH_AS(
      cuda::synchronize(),
      doctest::Contains("ctc_loss: input length 7 of sample 1 out of range [0, 6]"), Error);
  CHECK(loss.to(kCpu).to_vector<double>()[1] == 0.0);  // the bad sample's loss is 0
  loss = loss_of(targets, in_len, gpu(from_vector<int64_t>({-1, 2}, {2})));
  CHECK_THROWS_WITH_AS(
      cuda::synchronize(),
      doctest::Contains("ctc_loss: target length -1 of sample 0 out of range [0, 3]"), Error);
  loss = loss_of(gpu(from_vector<int64_t>({1, 2, 3, 1, 4, 0}, {2, 3})), in_len, tg_len);
  CHECK_THROWS_WITH_AS(
      cuda::synchronize(),
      doctest::Contains("ctc_loss: target 4 of sample 1 out of range [0, 4) or the blank"), Error);
  loss = loss_of(gpu(from_vector<int64_t>({1, 0, 3, 1, 1, 0}, {2, 3})), in_len, tg_len);
  loss.sum().backward();
  CHECK_THROWS_WITH_AS(cuda::synchronize(), doctest::Contains("ctc_loss: target 0 of sample 0"),
                       Error);
  CHECK(lp.grad().to(kCpu).select(1, 0).abs().sum().item<double>() == 0.0);
  CHECK(lp.grad().to(kCpu).select(1, 1).abs().sum().item<double>() > 0.0);
  cuda::synchronize();
}

TEST_CASE("a host -> device copy keeps the values of the host buffer when it is called") {
  // Big enough to pass through every staging buffer more than once.
  const int64_t n = int64_t{9} << 20;
  std::vector<float> host(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) host[static_cast<size_t>(i)] = static_cast<float>(i % 1000);
  Tensor src = from_vector<float>(host, {n});
  Tensor dev = src.to(kCuda);
  float* data = static_cast<float*>(src.raw_data());
  std::fill(data, data + n, -1.0f);  // after the copy returned, before it may have landed
  std::vector<float> back = dev.to(kCpu).to_vector<float>();
  for (int64_t i = 0; i < n; i += 4099)
    CHECK(back[static_cast<size_t>(i)] == host[static_cast<size_t>(i)]);
  CHECK(back.back() == host.back());
}

TEST_CASE("memory_stats are per device") {
  cuda::synchronize(0);
  const size_t nbytes = size_t{8} << 20;
  const cuda::MemoryStats before = cuda::memory_stats(0);
  Tensor x = zeros({static_cast<int64_t>(nbytes / sizeof(float))}, {.device = kCuda});
  CHECK(cuda::memory_stats(0).allocated >= before.allocated + nbytes);
  if (cuda::device_count() >= 2)
    CHECK(cuda::memory_stats(1).allocated == memory_allocated(Device::cuda(1)));
  {
    cuda::DeviceGuard guard(0);
    CHECK(cuda::memory_stats().allocated == cuda::memory_stats(0).allocated);
  }
}

TEST_CASE("two GPUs: copies between them, ops on cuda:1, mixed devices refused") {
  if (cuda::device_count() < 2) {
    MESSAGE("fewer than 2 CUDA devices: skipped");
    return;
  }
  const Device second = Device::cuda(1);
  Tensor a = random_input({33, 17}, kFloat32), b = random_input({17, 5}, kFloat32);
  Tensor a0 = gpu(a), a1 = a0.to(second), b1 = b.to(second);
  CHECK(a1.device() == second);
  check_close(a1.to(kCpu), a);
  Tensor c1 = matmul(a1, b1) + 1.0;
  CHECK(c1.device() == second);
  check_close(c1.to(kCpu), matmul(a, b) + 1.0, 1e-5, 1e-5);
  check_close(c1.to(kCuda).to(kCpu), c1.to(kCpu));
  CHECK(cuda::memory_stats(1).allocated >= a1.numel() * sizeof(float));
  CHECK_THROWS_WITH_AS(a0 + a1, doctest::Contains("cuda:1"), Error);
  Tensor bad = from_vector<int64_t>({7}, {1}).to(second);
  Tensor out = embedding(bad, b1);
  CHECK_THROWS_WITH_AS(cuda::synchronize(1), doctest::Contains("embedding: index 7"), Error);
  cuda::synchronize(0);
  cuda::synchronize(1);
}
