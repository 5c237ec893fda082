// Views share storage and have the right geometry; reshape copies only when
// it must; slicing follows Python's rules.
#include <doctest/doctest.h>

#include <lasergrad/lasergrad.h>

using namespace lg;

TEST_CASE("views share storage with their base") {
  Tensor a = arange(24).reshape({2, 3, 4});
  for (Tensor v : {a.view({6, 4}), a.transpose(0, 2), a.permute({2, 0, 1}), a.slice(1, 0, 3, 2),
                   a.select(0, 1), a.unsqueeze(1), a.flatten(), a.slice(2, 1, 2).squeeze(2),
                   a.select(1, 0).unsqueeze(0).expand({5, 2, 4})}) {
    CHECK(v.storage() == a.storage());
  }
  Tensor v = a.view({6, 4});
  v.select(0, 0).fill_(-1);
  CHECK(a.to_vector<int64_t>()[3] == -1);
}

TEST_CASE("view geometry: strides, offsets and contiguity") {
  Tensor a = arange(24).reshape({2, 3, 4});
  CHECK(a.strides() == Shape{12, 4, 1});
  Tensor t = a.transpose(0, 2);
  CHECK(t.shape() == Shape{4, 3, 2});
  CHECK(t.strides() == Shape{1, 4, 12});
  CHECK_FALSE(t.is_contiguous());
  Tensor s = a.slice(2, 1, 4, 2);
  CHECK(s.shape() == Shape{2, 3, 2});
  CHECK(s.strides() == Shape{12, 4, 2});
  CHECK(s.storage_offset() == 1);
  CHECK(s.to_vector<int64_t>() == std::vector<int64_t>{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23});
  Tensor e = arange(3).unsqueeze(1).expand({3, 4});
  CHECK(e.strides() == Shape{1, 0});
  CHECK(e.to_vector<int64_t>() == std::vector<int64_t>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2});
  CHECK(a.select(1, -1).to_vector<int64_t>() == std::vector<int64_t>{8, 9, 10, 11, 20, 21, 22, 23});
  CHECK(a.squeeze().shape() == a.shape());
  CHECK(zeros({1, 3, 1}).squeeze().shape() == Shape{3});
  CHECK(zeros({1, 3, 1}).squeeze(0).shape() == Shape{3, 1});
  CHECK(zeros({2, 3}).squeeze(0).shape() == Shape{2, 3});
  CHECK(zeros({2, 3}).unsqueeze(-1).shape() == Shape{2, 3, 1});
  CHECK(zeros({2, 3, 4}).flatten(1).shape() == Shape{2, 12});
  CHECK(zeros({}).flatten().shape() == Shape{1});
}

TEST_CASE("slice clamps like Python and supports steps") {
  Tensor a = arange(10);
  CHECK(a.slice(0, -3, 100).to_vector<int64_t>() == std::vector<int64_t>{7, 8, 9});
  CHECK(a.slice(0, 2, 9, 3).to_vector<int64_t>() == std::vector<int64_t>{2, 5, 8});
  CHECK(a.slice(0, 5, 2).numel() == 0);
  CHECK(a.slice(0, -100, 2).to_vector<int64_t>() == std::vector<int64_t>{0, 1});
}

TEST_CASE("reshape views when it can and copies when it must") {
  Tensor a = arange(12).reshape({3, 4});
  Tensor r = a.reshape({2, -1});
  CHECK(r.shape() == Shape{2, 6});
  CHECK(r.storage() == a.storage());
  Tensor t = a.t();  // [4,3] with strides [1,4]: flattening needs a copy
  Tensor flat = t.reshape({-1});
  CHECK(flat.storage() != a.storage());
  CHECK(flat.to_vector<int64_t>() == std::vector<int64_t>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  // splitting rows of a non-contiguous tensor is a view; merging them is not
  Tensor b = arange(24).reshape({4, 6}).slice(1, 0, 4);  // [4,4] with strides [6,1]
  Tensor split = b.reshape({2, 2, 4});
  CHECK(split.storage() == b.storage());
  CHECK(split.strides() == Shape{12, 6, 1});
  Tensor merged = b.reshape({16});
  CHECK(merged.storage() != b.storage());
  CHECK(merged.to_vector<int64_t>() == b.contiguous().view({16}).to_vector<int64_t>());
  // a size-1 dim with any stride does not block a view
  Tensor c = arange(4).reshape({4, 1}).t();
  CHECK(c.view({2, 2}).storage() == c.storage());
}

TEST_CASE("reshape of expanded tensors and views of zero-size tensors") {
  Tensor e = arange(3).unsqueeze(0).expand({2, 3});
  CHECK(e.reshape({6}).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 0, 1, 2});
  CHECK(zeros({0, 4}).reshape({4, 0, 2}).shape() == Shape{4, 0, 2});
}
