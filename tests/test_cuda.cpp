// The CUDA backend against the CPU backend: every CUDA kernel runs on the same
// inputs as its CPU twin and must agree. Exits 77 (ctest: skipped) without a GPU.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include <cmath>
#include <functional>
#include <iostream>
#include <limits>
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

TEST_CASE("the CUDA kernel tables cover what the CPU's do, reductions aside") {
  for (DType dtype : kAllDTypes) {
    INFO(dtype_name(dtype));
    const KernelTable& cpu = kernel_table(kCpu, dtype);
    const KernelTable& cuda = kernel_table(kCuda, dtype);
    CHECK((cpu.fill != nullptr) == (cuda.fill != nullptr));
    CHECK((cpu.copy != nullptr) == (cuda.copy != nullptr));
    CHECK((cpu.unary != nullptr) == (cuda.unary != nullptr));
    CHECK((cpu.binary != nullptr) == (cuda.binary != nullptr));
    CHECK((cpu.matmul != nullptr) == (cuda.matmul != nullptr));
    CHECK((cpu.uniform != nullptr) == (cuda.uniform != nullptr));
    CHECK((cpu.normal != nullptr) == (cuda.normal != nullptr));
    CHECK((cpu.all_finite != nullptr) == (cuda.all_finite != nullptr));
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

TEST_CASE("autograd runs on CUDA and gives the CPU's gradients") {
  Tensor x = random_input({3, 4}, kFloat64).requires_grad_();
  Tensor x_gpu = gpu(x).detach().requires_grad_();
  Tensor y = exp(x * 0.1) * x + x;
  Tensor y_gpu = exp(x_gpu * 0.1) * x_gpu + x_gpu;
  y.backward(ones_like(y));
  y_gpu.backward(ones_like(y_gpu));
  check_close(x_gpu.grad(), x.grad(), 1e-13, 1e-13);
}

TEST_CASE("misuse on CUDA throws lg::Error naming the op") {
  Tensor x = gpu(random_input({3}, kFloat32));
  CHECK_THROWS_WITH_AS(sum(x), doctest::Contains("not implemented for float32 on cuda:0"), Error);
  CHECK_THROWS_AS(x + random_input({3}, kFloat32), Error);  // devices differ
  CHECK_THROWS_WITH_AS(zeros({2}, {.device = Device::cuda(1)}),
                       doctest::Contains("runs on cuda:0 only"), Error);
}

int main(int argc, char** argv) {
  if (!cuda_is_available()) {
    std::cout << "test_cuda: no usable CUDA device; skipped\n";
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
