// lg::distributed's collectives, written for any world size: ctest runs this
// under mpirun with 2 and 3 ranks (every rank runs the same cases in the same
// order) and alone as a single process, where every call is the identity.
#include <doctest/doctest.h>
#include <lasergrad/distributed/distributed.h>
#include <lasergrad/lasergrad.h>

#include <cstdint>
#include <string>
#include <vector>

using namespace lg;
namespace dist = lg::distributed;

namespace {

int world() {
  dist::init();
  return dist::world_size();
}

// Element i of rank r's operand: small integers, exact in float32 sums.
template <typename T>
std::vector<T> operand(int64_t n, int r) {
  std::vector<T> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<T>((r + 1) * (i % 7 + 1));
  return v;
}

// What every rank expects after reducing operand<T>(n, r) over the W ranks.
template <typename T>
T expected(dist::ReduceOp op, int64_t i, int w) {
  const double base = static_cast<double>(i % 7 + 1);
  switch (op) {
    case dist::ReduceOp::Sum:
      return static_cast<T>(base * w * (w + 1) / 2);
    case dist::ReduceOp::Mean:
      return static_cast<T>(base * (w + 1) / 2);
    case dist::ReduceOp::Max:
      return static_cast<T>(base * w);
  }
  return T{};
}

template <typename T>
void check_all_reduce(dist::ReduceOp op, int64_t n) {
  const int w = world();
  Tensor t = from_vector(operand<T>(n, dist::rank()), {n});
  const uint64_t version = t.version();
  dist::all_reduce(t, op);
  if (w > 1) CHECK(t.version() > version);
  const std::vector<T> got = t.to_vector<T>();
  int64_t wrong = 0;
  for (int64_t i = 0; i < n; ++i)
    if (got[static_cast<size_t>(i)] != expected<T>(op, i, w)) ++wrong;
  INFO(dtype_name(dtype_of<T>()), " ", dist::reduce_op_name(op), " n=", n);
  CHECK(wrong == 0);
}

}  // namespace

TEST_CASE("init gives a rank below the world size and is idempotent") {
  dist::init();
  dist::init();
  CHECK(dist::is_initialized());
  CHECK(dist::rank() >= 0);
  CHECK(dist::rank() < dist::world_size());
  CHECK(dist::local_rank() >= 0);
  CHECK(dist::timeout_seconds() > 0);
}

TEST_CASE("all_reduce Sum, Mean and Max of float32, float64 and int64, 1 and 2^20 elements") {
  for (int64_t n : {int64_t{1}, int64_t{1} << 20}) {
    for (dist::ReduceOp op : {dist::ReduceOp::Sum, dist::ReduceOp::Mean, dist::ReduceOp::Max}) {
      check_all_reduce<float>(op, n);
      check_all_reduce<double>(op, n);
      if (op != dist::ReduceOp::Mean) check_all_reduce<int64_t>(op, n);
    }
  }
}

TEST_CASE("all_reduce of a non-contiguous tensor writes the result back through the view") {
  const int w = world();
  Tensor base = full({3, 4}, static_cast<double>(dist::rank() + 1), {.dtype = kFloat64});
  Tensor view = base.t();
  dist::all_reduce(view, dist::ReduceOp::Sum);
  for (double v : base.to_vector<double>()) CHECK(v == w * (w + 1) / 2.0);
}

TEST_CASE("all_reduce of a parameter that requires grad changes its values, not its graph") {
  const int w = world();
  Tensor p = full({5}, 2.0f, {.requires_grad = true});
  dist::all_reduce(p, dist::ReduceOp::Mean);
  CHECK(p.is_leaf());
  CHECK(p.requires_grad());
  for (float v : p.to_vector<float>()) CHECK(v == 2.0f);
  dist::all_reduce(p, dist::ReduceOp::Sum);
  for (float v : p.to_vector<float>()) CHECK(v == 2.0f * static_cast<float>(w));
}

TEST_CASE("all_reduce refuses bool, and Mean of int64, on every rank") {
  world();
  Tensor flags = full({2}, true, {.dtype = kBool});
  CHECK_THROWS_WITH_AS(dist::all_reduce(flags), doctest::Contains("all_reduce: needs float32"),
                       Error);
  Tensor counts = full({2}, int64_t{3}, {.dtype = kInt64});
  CHECK_THROWS_WITH_AS(dist::all_reduce(counts, dist::ReduceOp::Mean),
                       doctest::Contains("Mean needs float32 or float64"), Error);
}

TEST_CASE("broadcast from root 0 and from the last rank, any dtype") {
  const int w = world();
  for (int root : {0, w - 1}) {
    Tensor f = arange(0, 12, 1, {.dtype = kFloat32}).reshape({3, 4}).add_(dist::rank() * 100.0);
    dist::broadcast(f, root);
    const std::vector<float> got = f.to_vector<float>();
    for (size_t i = 0; i < got.size(); ++i)
      CHECK(got[i] == static_cast<float>(i + 100u * static_cast<unsigned>(root)));
    Tensor b = full({7}, dist::rank() == root, {.dtype = kBool});
    dist::broadcast(b, root);
    for (bool v : b.to_vector<bool>()) CHECK(v);
    Tensor big = full({1 << 20}, int64_t{dist::rank()}, {.dtype = kInt64});
    dist::broadcast(big, root);
    CHECK(big.max().item<int64_t>() == root);
    CHECK(big.sum().item<int64_t>() == int64_t{root} << 20);
  }
}

TEST_CASE("broadcast names a root that is not a rank") {
  const int w = world();
  Tensor t = zeros({2});
  CHECK_THROWS_WITH_AS(dist::broadcast(t, w), doctest::Contains("is not a rank"), Error);
  CHECK_THROWS_WITH_AS(dist::broadcast_bytes("x", -1), doctest::Contains("is not a rank"), Error);
}

TEST_CASE("all_reduce_async: several in flight, finished by test() and by wait()") {
  const int w = world();
  std::vector<Tensor> buckets;
  std::vector<dist::Work> works;
  for (int i = 0; i < 4; ++i) {
    buckets.push_back(full({1000 + i}, static_cast<float>(dist::rank() + i), {}));
    works.push_back(dist::all_reduce_async(buckets.back(), dist::ReduceOp::Mean));
  }
  while (!works[0].test()) {
  }
  CHECK(works[0].test());
  for (size_t i = 1; i < works.size(); ++i) works[i].wait();
  for (size_t i = 0; i < buckets.size(); ++i) {
    const float want = static_cast<float>(i) + static_cast<float>(w - 1) / 2.0f;
    for (float v : buckets[i].to_vector<float>()) CHECK(v == want);
  }
  CHECK(works[1].waited_seconds() >= 0);
  dist::Work none;
  CHECK(none.test());
  none.wait();
}

TEST_CASE("all_reduce_async refuses a non-contiguous tensor") {
  world();
  CHECK_THROWS_WITH_AS(dist::all_reduce_async(zeros({3, 2}).t()),
                       doctest::Contains("all_reduce_async: needs a contiguous tensor"), Error);
}

TEST_CASE("all_reduce of host values") {
  const int w = world();
  const double r = dist::rank();
  const std::vector<double> sum = dist::all_reduce({r, 1.0, -r}, dist::ReduceOp::Sum);
  CHECK(sum == std::vector<double>{w * (w - 1) / 2.0, static_cast<double>(w), -w * (w - 1) / 2.0});
  const std::vector<double> mean = dist::all_reduce({r}, dist::ReduceOp::Mean);
  CHECK(mean[0] == doctest::Approx((w - 1) / 2.0));
  const std::vector<double> max = dist::all_reduce({r, -r}, dist::ReduceOp::Max);
  CHECK(max == std::vector<double>{w - 1.0, 0.0});
  CHECK(dist::all_reduce(std::vector<double>{}, dist::ReduceOp::Sum).empty());
}

TEST_CASE("broadcast_bytes: binary, empty and several megabytes") {
  world();
  const bool root = dist::rank() == 0;
  const std::string binary("bytes\0with\xff nul", 15);
  CHECK(dist::broadcast_bytes(root ? binary : "ignored") == binary);
  CHECK(dist::broadcast_bytes(root ? "" : "ignored").empty());
  std::string big(3 << 20, 'x');
  big[12345] = 'y';
  CHECK(dist::broadcast_bytes(root ? big : std::string()) == big);
}

TEST_CASE("barrier") {
  world();
  dist::barrier();
  dist::barrier();
}

TEST_CASE("ranks that disagree on shape, dtype, op or root all throw, then carry on") {
  const int w = world();
  if (w == 1) return;
  const int r = dist::rank();
  Tensor t = zeros({2, 3 + r});
  const std::string message =
      "all_reduce: ranks disagree: float32[2," + std::to_string(3 + r) + "] (" +
      std::to_string(6 + 2 * r) + " elements) on cpu here on rank " + std::to_string(r) + ", 6.." +
      std::to_string(6 + 2 * (w - 1)) + " elements across " + std::to_string(w) + " ranks";
  CHECK_THROWS_WITH_AS(dist::all_reduce(t), doctest::Contains(message.c_str()), Error);
  Tensor typed = zeros({4}, {.dtype = r == 0 ? kFloat64 : kFloat32});
  CHECK_THROWS_WITH_AS(dist::all_reduce(typed), doctest::Contains("dtypes float32..float64"),
                       Error);
  Tensor same = zeros({4});
  CHECK_THROWS_WITH_AS(dist::all_reduce(same, r == 0 ? dist::ReduceOp::Sum : dist::ReduceOp::Max),
                       doctest::Contains("ops Sum..Max"), Error);
  CHECK_THROWS_WITH_AS(dist::broadcast(same, r == 0 ? 0 : 1), doctest::Contains("roots 0..1"),
                       Error);
  // One rank's invalid call: it names its own problem, the others point at it.
  Tensor odd = r == 1 ? full({4}, true, {.dtype = kBool}) : zeros({4});
  CHECK_THROWS_WITH_AS(dist::all_reduce(odd),
                       doctest::Contains(r == 1 ? "needs float32" : "another rank's call"), Error);
  CHECK_THROWS_WITH_AS(dist::check_same_across_ranks({1, 2, r == 0 ? 3 : 4}, "buckets"),
                       doctest::Contains("buckets: ranks differ at position 2"), Error);
  CHECK_THROWS_WITH_AS(
      dist::check_same_across_ranks(std::vector<int64_t>(size_t(1 + r), 0), "layout"),
      doctest::Contains("layout: ranks differ"), Error);
  dist::check_same_across_ranks({1, 2, 3}, "buckets");
  Tensor ones_after = ones({3});
  dist::all_reduce(ones_after);
  CHECK(ones_after.sum().item<float>() == 3.0f * static_cast<float>(w));
}
