// 0-d tensors with a dim argument: PyTorch reads dim 0 or -1 of a 0-d tensor
// as its one implicit dimension for reductions, softmax, cumsum, topk and the
// shape ops, and rejects the ops that need a real dimension. Each case gives
// PyTorch's answer or an lg::Error naming the op; none reads past the shape.
#include "test_util.h"

using namespace lg;

namespace {
Tensor scalar2() { return full({}, 2.0, {.dtype = kFloat64}); }

void check_scalar(const Tensor& t, double want) {
  CHECK(t.dim() == 0);
  CHECK(t.item<double>() == doctest::Approx(want));
}
}  // namespace

TEST_CASE("reductions accept dim 0 and -1 of a 0-d tensor and give a 0-d result") {
  const Tensor s = scalar2();
  for (int64_t d : {0, -1}) {
    for (bool keepdim : {false, true}) {
      INFO("dim " << d << " keepdim " << keepdim);
      check_scalar(sum(s, d, keepdim), 2);
      check_scalar(mean(s, d, keepdim), 2);
      check_scalar(max(s, d, keepdim), 2);
      check_scalar(min(s, d, keepdim), 2);
      check_scalar(logsumexp(s, d, keepdim), 2);
      check_scalar(var(s, d, /*unbiased=*/false, keepdim), 0);
      CHECK(std::isnan(var(s, d, /*unbiased=*/true, keepdim).item<double>()));  // n - 1 = 0
      CHECK(std::isnan(lg::std(s, d, /*unbiased=*/true, keepdim).item<double>()));
      CHECK(argmax(s, d, keepdim).dim() == 0);
      CHECK(argmin(s, d, keepdim).item<int64_t>() == 0);
    }
  }
  check_scalar(sum(s, std::vector<int64_t>{0}), 2);
  check_scalar(s.sum(0), 2);
  check_scalar(s.mean(-1), 2);
  check_scalar(s.max(0), 2);
  check_scalar(sum(full({}, int64_t{3}, {.dtype = kInt64}), 0), 3);
}

TEST_CASE("reductions reject other dims of a 0-d tensor") {
  const Tensor s = scalar2();
  CHECK_ERROR(sum(s, 1), "sum", "dimension 1", "0-d");
  CHECK_ERROR(mean(s, -2), "mean", "dimension -2");
  CHECK_ERROR(max(s, 1), "max");
  CHECK_ERROR(var(s, 1), "var");
  CHECK_ERROR(logsumexp(s, 1), "logsumexp");
  CHECK_ERROR(argmax(s, 1), "argmax");
  CHECK_ERROR(sum(s, std::vector<int64_t>{0, -1}), "sum", "more than once");
}

TEST_CASE("a reduction over dim 0 of a 0-d tensor passes the gradient through") {
  Tensor s = full({}, 2.0, {.dtype = kFloat64, .requires_grad = true});
  (sum(s, 0) + mean(s, -1) * 3 + max(s, 0, true)).backward();
  check_scalar(s.grad(), 5);
}

TEST_CASE("softmax, cumsum and topk read a 0-d tensor as one element") {
  const Tensor s = scalar2();
  check_scalar(softmax(s, 0), 1);
  check_scalar(log_softmax(s, -1), 0);
  check_scalar(cumsum(s, 0), 2);
  check_scalar(cumsum(s, -1), 2);
  TopK top = topk(s, 1, 0);
  check_scalar(top.values, 2);
  CHECK(top.indices.dim() == 0);
  CHECK(top.indices.item<int64_t>() == 0);
  CHECK_ERROR(softmax(s, 1), "softmax", "dimension 1");
  CHECK_ERROR(cumsum(s, 1), "cumsum", "dimension 1");
  CHECK_ERROR(topk(s, 2, 0), "topk", "k = 2");
  CHECK_ERROR(topk(s, 1, 1), "topk", "dimension 1");
}

TEST_CASE("shape ops on a 0-d tensor follow PyTorch") {
  const Tensor s = scalar2();
  CHECK(s.squeeze(0).dim() == 0);
  CHECK(s.squeeze(-1).dim() == 0);
  CHECK(s.unsqueeze(0).shape() == Shape{1});
  CHECK(s.unsqueeze(-1).shape() == Shape{1});
  CHECK(s.transpose(0, -1).dim() == 0);
  CHECK(s.flatten().shape() == Shape{1});
  CHECK(s.flatten(0, -1).shape() == Shape{1});
  CHECK(s.permute({}).dim() == 0);
  CHECK(stack({s, s}, 0).shape() == Shape{2});
  CHECK(stack({s, s}, -1).shape() == Shape{2});
  CHECK_ERROR(s.squeeze(1), "squeeze", "dimension 1");
  CHECK_ERROR(s.unsqueeze(1), "unsqueeze", "dimension 1");
  CHECK_ERROR(s.transpose(0, 1), "transpose", "dimension 1");
  CHECK_ERROR(s.flatten(1), "flatten", "dimension 1");
  CHECK_ERROR(s.permute({0}), "permute");
  CHECK_ERROR(stack({s, s}, 1), "stack", "dimension 1");
}

TEST_CASE("ops that need a real dimension reject a 0-d tensor") {
  const Tensor s = scalar2();
  const Tensor i0 = full({}, int64_t{0}, {.dtype = kInt64});
  // PyTorch: "dimension specified as 0 but tensor has no dimensions".
  CHECK_ERROR(s.size(0), "size", "0-d");
  CHECK_ERROR(s.size(-1), "size", "0-d");
  CHECK_ERROR(s.stride(0), "stride", "0-d");
  CHECK_ERROR(s.select(0, 0), "select", "0-d");
  CHECK_ERROR(s.slice(0, 0, 1), "slice", "0-d");
  CHECK_ERROR(cat({s, s}, 0), "cat", "zero-dimensional");
  CHECK_ERROR(index_select(s, 0, i0), "index_select", "at least 1 dimension");
  CHECK_ERROR(gather(s, 0, i0), "gather", "at least 1 dimension");
  CHECK_ERROR(split(s, 1, 0), "split");
  CHECK_ERROR(chunk(s, 1, 0), "chunk");
}
