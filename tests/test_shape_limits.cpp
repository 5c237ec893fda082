// Shapes at the edge of what int64 element counts, byte sizes and the BLAS
// int can hold: every overflow is an lg::Error naming the op and the shape,
// never a wrapped count that allocates an undersized buffer; a tensor too
// large for memory is an lg::Error too, not an abort.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include <climits>
#include <new>

#include "backends/cpu/blas_int.h"
#include "test_util.h"

using namespace lg;

namespace {

// 3 * kWraps = 2^64 + 2: a product that wraps to 2 in int64 arithmetic.
constexpr int64_t kWraps = 0x5555555555555556;

// An allocator that has no memory at all, as a device allocator may report.
struct NoMemoryAllocator : Allocator {
  void* allocate(size_t) override { throw std::bad_alloc(); }
  void deallocate(void*, size_t) override {}
};

}  // namespace

TEST_CASE("element counts that overflow int64 are errors, not wrapped sizes") {
  CHECK_ERROR(zeros({int64_t{1} << 40, int64_t{1} << 40}), "zeros", "[1099511627776,1099511627776]",
              "elements");
  CHECK_ERROR(randn({int64_t{1} << 40, int64_t{1} << 30}), "randn", "elements");
  CHECK_ERROR(empty({3, kWraps}), "empty", "elements");
  CHECK_ERROR(nn::Embedding(int64_t{1} << 32, int64_t{1} << 32), "randn", "elements");
  // A zero-size tensor whose other dims multiply past int64 has no strides.
  CHECK_ERROR(empty({0, int64_t{1} << 40, int64_t{1} << 40}), "empty", "elements");
  CHECK_ERROR(empty({2, -3}), "empty", "negative", "[2,-3]");
}

TEST_CASE("byte counts that overflow are errors") {
  // 2^62 float32 elements: 2^64 bytes, which wrapped to 0 before.
  CHECK_ERROR(zeros({int64_t{1} << 31, int64_t{1} << 31}), "zeros", "bytes", "float32");
  CHECK_ERROR(empty({int64_t{1} << 61}, {.dtype = kFloat64}), "empty", "bytes");
}

TEST_CASE("a tensor larger than memory is an lg::Error") {
  // 2^45 bytes (32 TiB): representable, but no machine running this has it.
  CHECK_ERROR(empty({int64_t{1} << 43}), "empty", "float32[8796093022208]", "memory");
  CHECK_ERROR(zeros({int64_t{1} << 42, 2}), "zeros", "memory");
}

TEST_CASE("an allocator's std::bad_alloc arrives as an lg::Error") {
  // The allocators are fixed once the library runs, so the storage is given one.
  NoMemoryAllocator none;
  CHECK_ERROR(Storage(4000, Device::cpu(), &none), "out of memory", "4000 bytes", "cpu");
  CHECK(empty({1000}).numel() == 1000);
}

TEST_CASE("view, reshape and expand check the shapes they infer") {
  Tensor x = zeros({4});
  // Before: 3 * kWraps wrapped to 2, so 4 elements "filled" [3, kWraps, 2].
  CHECK_ERROR(x.reshape({3, kWraps, -1}), "reshape", "elements");
  CHECK_ERROR(x.reshape({3, kWraps, 2}), "reshape", "elements");
  CHECK_ERROR(x.view({3, kWraps, 2}), "view", "elements");
  CHECK_ERROR(x.view({2, -2}), "view", "-2");
  Tensor one = full({1}, 2.0);
  CHECK_ERROR(one.expand({-5}), "expand", "-5");
  CHECK_ERROR(one.expand({3, -2}), "expand", "-2");
  CHECK_ERROR(one.expand({int64_t{1} << 40, int64_t{1} << 40}), "expand", "elements");
  CHECK_ERROR(repeat(full({2}, 1.0), {int64_t{1} << 62}), "repeat", "[4611686018427387904]");
  // -1 keeps a dim; a broadcast from 1 is fine, as before.
  CHECK(full({2, 1}, 1.0).expand({-1, 3}).shape() == Shape{2, 3});
}

TEST_CASE("arange is exact on int64 and rejects ranges it cannot hold") {
  const int64_t big = (int64_t{1} << 53) + 1;  // not a double
  CHECK(arange(big, big + 3).to_vector<int64_t>() == std::vector<int64_t>{big, big + 1, big + 2});
  CHECK(arange(INT64_MAX - 2, INT64_MAX).to_vector<int64_t>() ==
        std::vector<int64_t>{INT64_MAX - 2, INT64_MAX - 1});
  CHECK(arange(INT64_MIN + 4, INT64_MIN, -2).to_vector<int64_t>() ==
        std::vector<int64_t>{INT64_MIN + 4, INT64_MIN + 2});
  CHECK(arange(10, 0, -3).to_vector<int64_t>() == std::vector<int64_t>{10, 7, 4, 1});
  CHECK(arange(0, 7, 3).to_vector<int64_t>() == std::vector<int64_t>{0, 3, 6});
  CHECK_ERROR(arange(INT64_MIN, INT64_MAX), "arange", "elements");
  CHECK_ERROR(arange(0.0, 1e300, 1.0), "arange", "elements");
  CHECK_ERROR(arange(0, int64_t{1} << 50), "arange", "memory");
  // Floating ranges are as before.
  check_close(arange(0.0, 1.0, 0.25), {0, 0.25, 0.5, 0.75}, 0);
}

TEST_CASE("the BLAS int check names the op and the value that does not fit") {
  CHECK(cpu::blas_int(INT_MAX, "matmul", "K") == INT_MAX);
  CHECK_ERROR(cpu::blas_int(int64_t{1} << 31, "matmul", "K"), "matmul", "K", "2147483648");
  CHECK_ERROR(cpu::blas_int(-1, "linear", "M"), "linear", "M", "-1");
}
