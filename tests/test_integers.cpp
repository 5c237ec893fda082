// Integer tensors: the element types that read int64 storage, wrap-around
// arithmetic without undefined behaviour, exact printing, and numbers that an
// integer dtype cannot hold.
#include <limits>
#include <sstream>

#include "test_util.h"

using namespace lg;

namespace {
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

template <typename T>
constexpr bool reads_as_vector = requires(const Tensor& t) {
  t.to_vector<T>();
};
template <typename T>
constexpr bool reads_as_pointer = requires(const Tensor& t) {
  t.data_ptr<T>();
};
}  // namespace

TEST_CASE("only a dtype's own element type reads its storage") {
  // int64 storage through an int32_t* or a long long* is a different type:
  // rejected at compile time rather than read as wrong values.
  static_assert(reads_as_vector<int64_t> && reads_as_pointer<int64_t>);
  static_assert(reads_as_vector<float> && reads_as_vector<double> && reads_as_vector<bool>);
  static_assert(!reads_as_vector<int32_t> && !reads_as_pointer<int32_t>);
  static_assert(!reads_as_vector<int> && !reads_as_pointer<int>);
  static_assert(!reads_as_vector<uint64_t> && !reads_as_pointer<uint64_t>);
  static_assert(!reads_as_vector<int16_t> && !reads_as_pointer<char>);
  static_assert(!ElementType<long long> || std::is_same_v<long long, int64_t>);

  Tensor t = from_vector(std::vector<int32_t>{-1, 2, 1 << 30}, {3});
  CHECK(t.dtype() == kInt64);
  CHECK(t.to_vector<int64_t>() == std::vector<int64_t>{-1, 2, 1 << 30});
  CHECK(t.data_ptr<int64_t>()[2] == (1 << 30));
}

TEST_CASE("unsigned values above INT64_MAX are rejected, not wrapped") {
  const uint64_t big = static_cast<uint64_t>(kMax) + 1;
  CHECK_ERROR(from_vector(std::vector<uint64_t>{1, big}), "from_vector", "9223372036854775808",
              "int64");
  CHECK_ERROR(full({2}, big, {.dtype = kInt64}), "9223372036854775808", "int64");
  CHECK(from_vector(std::vector<uint64_t>{static_cast<uint64_t>(kMax)}).item<int64_t>() == kMax);
}
