// Integer tensors: the element types that read int64 storage, wrap-around
// arithmetic without undefined behaviour, exact printing, and numbers that an
// integer dtype (or float32) cannot hold.
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

namespace {
Tensor ints(const std::vector<int64_t>& v) { return from_vector(v); }
}  // namespace

TEST_CASE("integer add, sub, mul, neg and abs wrap around on overflow, as PyTorch") {
  CHECK((ints({kMax, kMax}) + ints({1, kMax})).to_vector<int64_t>() ==
        std::vector<int64_t>{kMin, -2});
  CHECK((ints({kMax}) + 1).item<int64_t>() == kMin);
  CHECK((ints({kMin}) - ints({1})).item<int64_t>() == kMax);
  CHECK((ints({kMax, kMin}) * ints({2, -1})).to_vector<int64_t>() ==
        std::vector<int64_t>{-2, kMin});
  CHECK(neg(ints({kMin, 5})).to_vector<int64_t>() == std::vector<int64_t>{kMin, -5});
  CHECK(abs(ints({kMin, -5})).to_vector<int64_t>() == std::vector<int64_t>{kMin, 5});
  Tensor t = ints({kMax, 0});
  t.add_(ints({1, 1}));
  CHECK(t.to_vector<int64_t>() == std::vector<int64_t>{kMin, 1});
  t.mul_(ints({-1, 3}));
  CHECK(t.to_vector<int64_t>() == std::vector<int64_t>{kMin, 3});
}

TEST_CASE("integer sum and cumsum wrap around on overflow") {
  // Each layout the reduce kernel has a path for: trailing, leading, strided.
  CHECK(sum(ints({kMax, 1})).item<int64_t>() == kMin);
  Tensor m = ints({kMax, 1, 1, kMax}).reshape({2, 2});
  CHECK(sum(m, 1).to_vector<int64_t>() == std::vector<int64_t>{kMin, kMin});
  CHECK(sum(m, 0).to_vector<int64_t>() == std::vector<int64_t>{kMin, kMin});
  CHECK(sum(m.t(), 0).to_vector<int64_t>() == std::vector<int64_t>{kMin, kMin});
  CHECK(cumsum(ints({kMax, 1, -1}), 0).to_vector<int64_t>() ==
        std::vector<int64_t>{kMax, kMin, kMax});
  CHECK(sum(full({3}, true, {.dtype = kBool})).item<int64_t>() == 3);
}

TEST_CASE("integer index_add and scatter_add wrap around on overflow") {
  const Tensor at0 = ints({0, 0});
  CHECK(index_add(ints({kMax, 5}), 0, at0, ints({1, 1})).to_vector<int64_t>() ==
        std::vector<int64_t>{kMin + 1, 5});
  CHECK(scatter_add(ints({kMin, 5}), 0, at0, ints({-1, -1})).to_vector<int64_t>() ==
        std::vector<int64_t>{kMax - 1, 5});
}

TEST_CASE("integer pow is exact wherever the result fits") {
  CHECK(pow(ints({3}), 39).item<int64_t>() == 4052555153018976267);
  CHECK(pow(ints({-2}), 63).item<int64_t>() == kMin);
  CHECK(pow(ints({2, -3, 0, 7}), ints({62, 3, 0, 1})).to_vector<int64_t>() ==
        std::vector<int64_t>{int64_t{1} << 62, -27, 1, 7});
  CHECK(pow(ints({2}), 64).item<int64_t>() == 0);  // wraps like repeated multiplication
  CHECK(pow(ints({3}), 41).item<int64_t>() ==
        static_cast<int64_t>(static_cast<uint64_t>(4052555153018976267) * 9u));
}

TEST_CASE("integer pow with a negative exponent follows PyTorch") {
  // A tensor exponent gives the integer part of the result (1, -1 or 0) ...
  CHECK(pow(ints({1, -1, -1, 2, 0}), ints({-3, -3, -2, -1, -1})).to_vector<int64_t>() ==
        std::vector<int64_t>{1, -1, 1, 0, 0});
  // ... and a number exponent is an error, as torch.pow(int_tensor, -1).
  CHECK_ERROR(pow(ints({2}), -1), "pow", "negative", "int64[1]");
  CHECK_ERROR(ints({2}).pow(-2), "pow", "negative");
  CHECK(pow(ints({2}), -1.0).dtype() == kFloat32);  // a float exponent promotes: no error
}

TEST_CASE("printing an int64 tensor shows its values exactly") {
  std::ostringstream os;
  os << ints({kMax, kMin, (int64_t{1} << 53) + 1});
  CHECK(os.str().find("9223372036854775807") != std::string::npos);
  CHECK(os.str().find("-9223372036854775808") != std::string::npos);
  CHECK(os.str().find("9007199254740993") != std::string::npos);
  std::ostringstream b;
  b << from_vector(std::vector<bool>{true, false});
  CHECK(b.str().find("[true, false]") != std::string::npos);
}

TEST_CASE("a number an integer dtype cannot hold is an error, not INT64_MIN") {
  for (double v : {double{NAN}, double{INFINITY}, -double{INFINITY}, 1e30, -1e30, 0x1p63}) {
    INFO("value " << v);
    CHECK_ERROR(full({2}, v, {.dtype = kInt64}), "cannot be converted to int64");
    Tensor t = zeros({2}, {.dtype = kInt64});
    CHECK_ERROR(t.fill_(v), "int64");
    CHECK_ERROR(masked_fill(t, full({2}, true, {.dtype = kBool}), v), "int64");
    CHECK_ERROR(full({1}, v).item<int64_t>(), "int64");
  }
  CHECK(full({1}, -0x1p63, {.dtype = kInt64}).item<int64_t>() == kMin);  // the edge that fits
  CHECK(full({1}, -2.7, {.dtype = kInt64}).item<int64_t>() == -2);       // truncates, as C++
  CHECK(full({1}, NAN, {.dtype = kBool}).item<bool>());                  // bool(nan) is true
}

TEST_CASE("a float tensor converts to int64 without undefined behaviour") {
  // What x86 gives and PyTorch's CPU casts show: INT64_MIN for what int64 cannot hold.
  Tensor f = from_vector(std::vector<double>{NAN, INFINITY, -INFINITY, 1e30, -0x1p63, 2.9, -2.9});
  CHECK(f.to(kInt64).to_vector<int64_t>() ==
        std::vector<int64_t>{kMin, kMin, kMin, kMin, kMin, 2, -2});
  CHECK(from_vector(std::vector<float>{NAN, 3e38f, -7.5f}).to(kInt64).to_vector<int64_t>() ==
        std::vector<int64_t>{kMin, kMin, -7});
}

TEST_CASE("a finite number beyond float32's range is an error for a float32 tensor") {
  // As PyTorch: "value cannot be converted to type float without overflow".
  for (double v : {1e39, -1e300, std::numeric_limits<double>::max()}) {
    INFO("value " << v);
    CHECK_ERROR(full({2}, v), "cannot be converted to float32");
    Tensor t = zeros({2});
    CHECK_ERROR(t.fill_(v), "float32");
    CHECK_ERROR(masked_fill(t, full({2}, true, {.dtype = kBool}), v), "float32");
    CHECK_ERROR(clamp(t, v), "float32");
  }
  // Infinity and NaN are float32 values; float64 holds all of these.
  CHECK(std::isinf(full({1}, -INFINITY).item<float>()));
  CHECK(std::isnan(full({1}, NAN).item<float>()));
  CHECK(full({1}, 3.4028234663852886e38).item<float>() == std::numeric_limits<float>::max());
  CHECK(full({1}, 1e300, {.dtype = kFloat64}).item<double>() == 1e300);
}
