// Every misuse throws lg::Error whose message names the op and the operands'
// shapes, dtypes or devices — never a crash or a silent wrong answer.
#include <doctest/doctest.h>

#include <lasergrad/lasergrad.h>

#include "test_util.h"

using namespace lg;

TEST_CASE("shape errors name the op and both shapes") {
  Tensor a = randn({4, 4}), b = randn({4, 8});
  CHECK_ERROR(a - b, "sub", "[4,4]", "[4,8]", "broadcast");
  CHECK_ERROR(matmul(randn({8, 64}), randn({32, 16})), "matmul: inner dimensions differ: [8,64] @ [32,16]");
  CHECK_ERROR(matmul(randn({3}), randn({4})), "matmul", "[3]", "[4]");
  CHECK_ERROR(matmul(randn({2, 3, 4}), randn({5, 4, 2})), "matmul", "[2]", "[5]");
  CHECK_ERROR(matmul(full({}, 1.0), randn({2})), "matmul", "at least 1 dimension");
  CHECK_ERROR(a.view({3, 5}), "view", "[4,4]", "[3,5]");
  CHECK_ERROR(a.reshape({-1, -1}), "reshape", "only one dimension can be -1");
  CHECK_ERROR(a.reshape({3, -1}), "reshape", "[4,4]", "[3,-1]");
  CHECK_ERROR(a.t().view({16}), "view", "contiguous", "reshape");
  CHECK_ERROR(a.expand({4, 5}), "expand", "[4,4]", "[4,5]");
  CHECK_ERROR(a.permute({0, 0}), "permute", "repeats");
  CHECK_ERROR(a.permute({0}), "permute", "1 dims", "float32[4,4]");
  CHECK_ERROR(cat({a, b}, 0), "cat", "[4,8]", "[4,4]");
  CHECK_ERROR(cat({}, 0), "cat", "non-empty");
  CHECK_ERROR(a.copy_(randn({3})), "copy_", "[3]", "[4,4]");
  CHECK_ERROR(a.add_(randn({2, 4, 4})), "add_", "[2,4,4]", "[4,4]");
  CHECK_ERROR(from_vector(std::vector<float>{1, 2, 3}, {2, 2}), "from_vector", "3 values", "[2,2]");
  CHECK_ERROR(zeros({2, -1}), "negative dimension", "[2,-1]");
}

TEST_CASE("index and dimension errors") {
  Tensor a = randn({2, 3});
  CHECK_ERROR(sum(a, 2), "sum", "dimension 2 out of range", "2-d");
  CHECK_ERROR(sum(a, std::vector<int64_t>{1, -1}), "sum", "more than once");
  CHECK_ERROR(a.select(1, 3), "select", "index 3", "float32[2,3]");
  CHECK_ERROR(a.transpose(0, 5), "transpose", "dimension 5");
  CHECK_ERROR(a.slice(0, 0, 2, 0), "slice", "step must be positive");
  CHECK_ERROR(a.unsqueeze(4), "unsqueeze", "dimension 4");
  CHECK_ERROR(a.size(2), "size", "dimension 2");
  CHECK_ERROR(argmax(a, 3), "argmax", "out of range");
  CHECK_ERROR(max(zeros({0})), "max", "empty");
  CHECK_ERROR(a.item<double>(), "item", "float32[2,3]");
  CHECK_ERROR(arange(0, 5, 0), "arange", "step");
}

TEST_CASE("dtype errors") {
  Tensor i = arange(4);
  CHECK_ERROR(mean(i), "mean", "int64[4]");
  CHECK_ERROR(i.requires_grad_(), "requires_grad_", "floating-point", "int64[4]");
  CHECK_ERROR(matmul(i.reshape({2, 2}), i.reshape({2, 2})), "matmul", "floating-point", "int64[2,2]");
  CHECK_ERROR(i.data_ptr<float>(), "data_ptr", "int64", "float32");
  CHECK_ERROR(i.add_(randn({4})), "add_", "float32", "int64[4]");
  CHECK_ERROR(i.mul_(0.5), "mul_", "int64[4]");
  CHECK_ERROR(neg(from_vector(std::vector<bool>{true})), "neg", "bool");
  CHECK_ERROR(randn({2}, {.dtype = kInt64}), "normal_", "int64[2]");
}

TEST_CASE("device errors") {
  if (cuda_is_available()) return;  // these need a machine without a CUDA device
  CHECK_ERROR(zeros({2}, {.device = Device::cuda(0)}), "cuda:0");
  CHECK_ERROR(randn({2}).to(Device::cuda(0)), "cuda:0");
}

TEST_CASE("autograd misuse") {
  Tensor x = randn({3}, {.requires_grad = true});
  Tensor y = x * 2;
  CHECK_ERROR(y.backward(), "backward", "scalar outputs", "float32[3]");
  CHECK_ERROR(y.backward(ones({4})), "backward", "float32[4]", "float32[3]");
  Tensor s = sum(exp(x));
  s.backward();
  CHECK_ERROR(s.backward(), "backward", "second time", "retain_graph");
  CHECK_ERROR(randn({2}).backward(), "backward", "does not require grad");
  CHECK_ERROR(grad({sum(x * 2)}, {randn({3})}), "grad", "input 0", "does not require grad");
  CHECK_ERROR(y.requires_grad_(false), "requires_grad_", "leaf");
  CHECK_ERROR(x.add_(1), "add_", "requires grad", "NoGradGuard");
  {
    NoGradGuard no_grad;
    CHECK_NOTHROW(x.add_(1));
  }
}

TEST_CASE("a saved tensor modified in place makes backward throw") {
  Tensor w = randn({3}, {.requires_grad = true});
  Tensor c = randn({3});
  Tensor y = sum(w * c);  // mul saves c for w's gradient
  c.mul_(2);
  CHECK_ERROR(y.backward(), "mul", "modified by an in-place operation", "float32[3]", "when saved",
              "now ");
  // modifying through a view is caught too
  Tensor d = randn({2, 3});
  Tensor z = sum(matmul(d, w));
  d.select(0, 1).zero_();
  CHECK_ERROR(z.backward(), "matmul", "in-place");
  // an op that saves its own output catches later edits of that output
  Tensor e = exp(w);
  Tensor loss = sum(e);
  {
    NoGradGuard no_grad;
    e.add_(1);
  }
  CHECK_ERROR(loss.backward(), "exp", "in-place");
}

TEST_CASE("gradcheck refuses inputs it cannot check") {
  auto fn = [](const std::vector<Tensor>& in) { return in[0] * 2; };
  CHECK_ERROR(gradcheck(fn, {randn({2}, {.requires_grad = true})}), "gradcheck", "float32[2]", "float64");
  CHECK_ERROR(gradcheck(fn, {randn({2}, {.dtype = kFloat64})}), "gradcheck", "no input requires grad");
}

TEST_CASE("runtime misuse") {
  CHECK_ERROR(set_num_threads(0), "set_num_threads", "0");
  CHECK_ERROR(Tensor().shape(), "shape", "undefined");
  CHECK_ERROR(Tensor() + randn({2}), "add", "undefined");
}
