// In-place ops whose operand shares memory with the written-to tensor: as in
// PyTorch, writing into a tensor whose elements share a memory location
// (an expanded view) and reading a source that partly overlaps the
// destination raise, since the result would depend on the kernel's order
// (and race under OpenMP); the exact same view (a.add_(a)) is fine.
#include "test_util.h"

using namespace lg;

namespace {
Tensor grid() { return arange(0.0, 9.0, 1.0, {.dtype = kFloat64}).reshape({3, 3}); }
Tensor line(int64_t n) { return arange(0.0, static_cast<double>(n), 1.0, {.dtype = kFloat64}); }
}  // namespace

TEST_CASE("a source partly overlapping the destination is an error") {
  Tensor a = grid();
  CHECK_ERROR(a.add_(a.t()), "add_", "single memory location", "float64[3,3]");
  CHECK_ERROR(a.sub_(a.t()), "sub_", "single memory location");
  CHECK_ERROR(a.mul_(a.t()), "mul_", "single memory location");
  CHECK_ERROR(a.add_(a.t(), 2.0), "add_", "single memory location");
  CHECK_ERROR(a.copy_(a.t()), "copy_", "single memory location");
  CHECK_ERROR(a.add_(a.select(0, 1)), "add_", "single memory location");  // broadcast row
  Tensor x = line(5);
  CHECK_ERROR(x.slice(0, 0, 4).copy_(x.slice(0, 1, 5)), "copy_", "single memory location");
  CHECK_ERROR(x.slice(0, 1, 5).copy_(x.slice(0, 0, 4)), "copy_", "single memory location");
  CHECK_ERROR(x.slice(0, 1, 5).add_(x.slice(0, 0, 4)), "add_", "single memory location");
  CHECK(a.to_vector<double>() == grid().to_vector<double>());  // nothing was written
  CHECK(x.to_vector<double>() == line(5).to_vector<double>());
}

TEST_CASE("writing into an expanded view is an error") {
  Tensor e = zeros({3}, {.dtype = kFloat64}).expand({2, 3});
  CHECK_ERROR(e.add_(ones({2, 3}, {.dtype = kFloat64})), "add_", "more than one element",
              "float64[2,3]");
  CHECK_ERROR(e.add_(1.0), "add_", "more than one element");
  CHECK_ERROR(e.mul_(2.0), "mul_", "more than one element");
  CHECK_ERROR(e.div_(2.0), "div_", "more than one element");
  CHECK_ERROR(e.copy_(ones({2, 3})), "copy_", "more than one element");
  Tensor u = zeros({4}).expand({1000, 4});
  CHECK_ERROR(uniform_(u, 0, 1), "copy_", "more than one element");
  // Strides that are not zero but still map two elements to one place.
  Tensor base = zeros({8}, {.dtype = kFloat64});
  CHECK_ERROR(make_view(base, {3, 2}, {1, 1}, 0).add_(1.0), "add_", "more than one element");
  // fill_ writes one value everywhere, so overlap cannot change its result (PyTorch allows it).
  e.fill_(4.0);
  CHECK(e.to_vector<double>() == std::vector<double>(6, 4.0));
}

TEST_CASE("the same view, disjoint views and unrelated storage stay allowed") {
  Tensor a = grid();
  a.add_(a);
  check_close(a, (grid() * 2).to_vector<double>(), 0);
  a.mul_(a);
  a.copy_(a);
  check_close(a, (grid() * grid() * 4).to_vector<double>(), 0);
  // Interleaved views of one storage share no element.
  Tensor x = line(6);
  x.slice(0, 0, 6, 2).copy_(x.slice(0, 1, 6, 2));
  CHECK(x.to_vector<double>() == std::vector<double>{1, 1, 3, 3, 5, 5});
  x.slice(0, 0, 3).add_(x.slice(0, 3, 6));
  CHECK(x.to_vector<double>() == std::vector<double>{4, 6, 8, 3, 5, 5});
  // An unusual but injective layout: strides {2, 3} over 3 x 2 elements.
  Tensor base = zeros({8}, {.dtype = kFloat64});
  make_view(base, {3, 2}, {2, 3}, 0).add_(1.0);
  CHECK(base.to_vector<double>() == std::vector<double>{1, 0, 1, 1, 1, 1, 0, 1});
  // A different dtype or device is converted into a fresh tensor first.
  Tensor f = grid();
  f.add_(f.t().to(kFloat32));
  check_close(f, (grid() + grid().t()).to_vector<double>(), 0);
}
