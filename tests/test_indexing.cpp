// Indexing ops against float64 references on random inputs and random
// indices (embedding, index_select/index_add, gather/scatter_add, stack,
// split/chunk, pad, repeat), the gradients of repeated and padding indices,
// and the error paths (out-of-range indices never reach a kernel).
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include "test_util.h"

#include <random>

using namespace lg;

namespace {

Tensor rnd(const Shape& shape, DType dtype, double lo = -2, double hi = 2) {
  return random_uniform(shape, dtype, lo, hi);
}

std::mt19937_64 rng(1234);

// Random indices in [0, n) of the given shape.
Tensor random_ids(const Shape& shape, int64_t n) {
  std::vector<int64_t> v(shape_numel(shape));
  for (int64_t& x : v) x = static_cast<int64_t>(rng() % static_cast<uint64_t>(n));
  return tensor(v, shape);
}




double tol_for(DType dtype) { return dtype == kFloat32 ? 1e-5 : 1e-12; }

}  // namespace

TEST_CASE("embedding gathers rows, repeated ids accumulate, padding rows get no gradient") {
  manual_seed(1);
  for (DType dtype : {kFloat64, kFloat32}) {
    const int64_t V = 7, D = 5;
    Tensor table = rnd({V, D}, dtype).requires_grad_();
    Tensor ids = random_ids({3, 4}, V);
    Tensor out = embedding(ids, table);
    CHECK(out.shape() == Shape{3, 4, D});
    std::vector<double> t = table.to_vector<double>(), want;
    std::vector<int64_t> iv = ids.to_vector<int64_t>();
    for (int64_t id : iv)
      for (int64_t j = 0; j < D; ++j) want.push_back(t[id * D + j]);
    check_close(out, want, 0);

    Tensor g = rnd({3, 4, D}, dtype);
    std::vector<double> gv = g.to_vector<double>();
    for (std::optional<int64_t> padding :
         {std::optional<int64_t>(), std::optional<int64_t>(iv[0])}) {
      Tensor dt = grad({embedding(ids, table, padding)}, {table}, {}, {g})[0];
      std::vector<double> want_grad(V * D, 0.0);
      for (size_t k = 0; k < iv.size(); ++k)
        if (!padding || iv[k] != *padding)
          for (int64_t j = 0; j < D; ++j) want_grad[iv[k] * D + j] += gv[k * D + j];
      check_close(dt, want_grad, tol_for(dtype));
    }
  }
  // Large enough for the parallel index_add path; ids all equal to stress accumulation.
  Tensor table = rnd({3, 600}, kFloat64).requires_grad_();
  Tensor ids = zeros({100}, {.dtype = kInt64});
  sum(embedding(ids, table)).backward();
  std::vector<double> gt = table.grad().to_vector<double>();
  CHECK(gt[0] == 100.0);
  CHECK(gt[599] == 100.0);
  CHECK(gt[600] == 0.0);
}

TEST_CASE("index_select and index_add match references along every dim") {
  manual_seed(2);
  for (DType dtype : {kFloat64, kFloat32}) {
    for (Shape shape : {Shape{4, 5, 3}, Shape{64, 40, 30}}) {
      for (int64_t dim = 0; dim < 3; ++dim) {
        CAPTURE(dim);
        Tensor x = rnd(shape, dtype);
        Tensor index = random_ids({7}, shape[dim]);
        std::vector<int64_t> iv = index.to_vector<int64_t>();
        std::vector<double> xv = x.to_vector<double>();
        Tensor y = index_select(x, dim, index);
        Shape out_shape = shape;
        out_shape[dim] = 7;
        REQUIRE(y.shape() == out_shape);
        std::vector<double> want(shape_numel(out_shape));
        for (int64_t i = 0; i < static_cast<int64_t>(want.size()); ++i) {
          auto idx = unravel(i, out_shape);
          idx[dim] = iv[idx[dim]];
          want[i] = xv[ravel(idx, shape)];
        }
        check_close(y, want, 0);
        // A non-contiguous input selects the same values.
        Tensor xt = x.transpose(0, 2).contiguous().transpose(0, 2);
        check_close(index_select(xt, dim, index), want, 0);

        Tensor src = rnd(out_shape, dtype);
        std::vector<double> sv = src.to_vector<double>(), added = xv;
        for (int64_t i = 0; i < static_cast<int64_t>(sv.size()); ++i) {
          auto idx = unravel(i, out_shape);
          idx[dim] = iv[idx[dim]];
          added[ravel(idx, shape)] += sv[i];
        }
        check_close(index_add(x, dim, index, src), added, tol_for(dtype));
        check_close(x, xv, 0);  // out of place
      }
    }
  }
}

TEST_CASE("gather and scatter_add match references, with index smaller than the input") {
  manual_seed(3);
  for (DType dtype : {kFloat64, kFloat32, kInt64}) {
    for (bool big : {false, true}) {
      const Shape shape = big ? Shape{40, 50, 30} : Shape{4, 5, 3};
      for (int64_t dim = 0; dim < 3; ++dim) {
        CAPTURE(dim);
        Shape ishape = shape;
        ishape[(dim + 1) % 3] -= 1;  // smaller than the input off dim
        ishape[dim] = big ? 45 : 6;  // and longer along dim
        Tensor x = dtype == kInt64 ? random_ids(shape, 100) : rnd(shape, dtype);
        Tensor xt = x.permute({2, 0, 1}).contiguous().permute({1, 2, 0});  // non-contiguous
        Tensor index = random_ids(ishape, shape[dim]);
        std::vector<int64_t> iv = index.to_vector<int64_t>();
        std::vector<double> xv = x.to_vector<double>();
        std::vector<double> want(iv.size());
        for (int64_t i = 0; i < static_cast<int64_t>(iv.size()); ++i) {
          auto idx = unravel(i, ishape);
          idx[dim] = iv[i];
          want[i] = xv[ravel(idx, shape)];
        }
        check_close(gather(x, dim, index), want, 0);
        check_close(gather(xt, dim, index), want, 0);

        Shape sshape = ishape;
        sshape[2] += 1;  // src larger than index: the extra positions are ignored
        Tensor src = dtype == kInt64 ? random_ids(sshape, 100) : rnd(sshape, dtype);
        std::vector<double> sv = src.to_vector<double>(), added = xv;
        for (int64_t i = 0; i < static_cast<int64_t>(iv.size()); ++i) {
          auto idx = unravel(i, ishape);
          double s = sv[ravel(idx, sshape)];
          idx[dim] = iv[i];
          added[ravel(idx, shape)] += s;
        }
        check_close(scatter_add(x, dim, index, src), added, tol_for(dtype) * 10);
        check_close(scatter_add(xt, dim, index.t().contiguous().t(), src), added,
                    tol_for(dtype) * 10);
      }
    }
  }
}

TEST_CASE("stack, split, chunk, pad and repeat") {
  manual_seed(4);
  for (DType dtype : {kFloat64, kFloat32}) {
    Tensor a = rnd({2, 3}, dtype), b = rnd({2, 3}, dtype);
    std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>();
    Tensor s = stack({a, b.t().contiguous().t()}, 1);
    REQUIRE(s.shape() == Shape{2, 2, 3});
    std::vector<double> want;
    for (int i = 0; i < 2; ++i) {
      want.insert(want.end(), av.begin() + 3 * i, av.begin() + 3 * i + 3);
      want.insert(want.end(), bv.begin() + 3 * i, bv.begin() + 3 * i + 3);
    }
    check_close(s, want, 0);
    CHECK(stack({a, b}, -1).shape() == Shape{2, 3, 2});

    Tensor x = rnd({7, 4}, dtype);
    std::vector<double> xv = x.to_vector<double>();
    std::vector<Tensor> parts = split(x, 3, 0);
    REQUIRE(parts.size() == 3);
    CHECK(parts[2].shape() == Shape{1, 4});
    CHECK(parts[1].storage() == x.storage());  // views
    check_close(parts[2], std::vector<double>(xv.begin() + 24, xv.end()), 0);
    std::vector<Tensor> sized = split(x, {1, 0, 3}, 1);
    REQUIRE(sized.size() == 3);
    CHECK(sized[1].shape() == Shape{7, 0});
    CHECK(sized[2].shape() == Shape{7, 3});
    CHECK(sized[2].select(0, 6).select(0, 2).item<double>() == xv[27]);
    std::vector<Tensor> chunks = chunk(x, 3, 0);  // sizes 3, 3, 1 as PyTorch
    REQUIRE(chunks.size() == 3);
    CHECK(chunks[1].shape() == Shape{3, 4});
    CHECK(chunk(x, 2, 1).size() == 2);

    // pad: the last dim by (1, 2) with 9.5, the first cropped by 2 at the start.
    Tensor p = pad(x, {1, 2, -2, 0}, 9.5);
    REQUIRE(p.shape() == Shape{5, 7});
    std::vector<double> want_pad;
    for (int i = 2; i < 7; ++i) {
      want_pad.push_back(9.5);
      for (int j = 0; j < 4; ++j) want_pad.push_back(xv[i * 4 + j]);
      want_pad.insert(want_pad.end(), {9.5, 9.5});
    }
    check_close(p, want_pad, 0);
    check_close(pad(x.t(), {0, 0, 1, 0}).slice(0, 1, 5).t(), xv, 0);

    // repeat: PyTorch's tile semantics, with a new leading dim.
    Tensor r = repeat(a, {2, 1, 2});
    REQUIRE(r.shape() == Shape{2, 2, 6});
    std::vector<double> rv = r.to_vector<double>();
    for (int64_t i = 0; i < r.numel(); ++i) {
      auto idx = unravel(i, {2, 2, 6});
      CHECK(rv[i] == av[idx[1] * 3 + idx[2] % 3]);
    }
    Tensor one = rnd({1}, dtype);
    Tensor tiled = repeat(one, {4});
    CHECK(tiled.is_contiguous());
    CHECK(tiled.storage() != one.storage());  // a copy, as PyTorch's
  }
}

TEST_CASE("indexing errors name the op, the bad index and the size") {
  Tensor x = randn({4, 3});
  Tensor idx = tensor(std::vector<int64_t>{0, 4, 1});
  Tensor neg = tensor(std::vector<int64_t>{0, -1});
  CHECK_ERROR(embedding(idx, x), "embedding", "index 4", "size 4", "float32[4,3]");
  CHECK_ERROR(embedding(neg, x), "embedding", "index -1", "size 4");
  CHECK_ERROR(embedding(idx.to(kFloat32), x), "embedding", "int64", "float32[3]");
  CHECK_ERROR(embedding(neg, randn({4})), "embedding", "2-d", "float32[4]");
  CHECK_ERROR(embedding(tensor(std::vector<int64_t>{0}), x, 4), "embedding", "padding_idx 4");
  CHECK_ERROR(index_select(x, 0, idx), "index_select", "index 4", "dimension 0", "size 4");
  CHECK_ERROR(index_select(x, 1, neg), "index_select", "index -1", "size 3");
  CHECK_ERROR(index_select(x, 2, neg), "index_select", "dimension 2");
  CHECK_ERROR(index_select(x, 0, idx.reshape({3, 1})), "index_select", "1-d", "int64[3,1]");
  CHECK_ERROR(index_select(x, 0, randn({2})), "index_select", "int64", "float32[2]");
  CHECK_ERROR(index_add(x, 0, idx, randn({3, 3})), "index_add", "index 4", "size 4");
  CHECK_ERROR(index_add(x, 0, neg, randn({3, 3})), "index_add", "source", "float32[3,3]", "[2,3]");
  CHECK_ERROR(index_add(x, 0, neg, randn({2, 3}, {.dtype = kFloat64})), "index_add", "dtypes");
  Tensor gidx = tensor(std::vector<int64_t>{0, 1, 3, 2}, {2, 2});
  CHECK_ERROR(gather(x, 1, gidx), "gather", "index 3", "dimension 1", "size 3");
  CHECK_ERROR(gather(x, 0, tensor(std::vector<int64_t>{5}, {1, 1})), "gather", "index 5", "size 4");
  CHECK_ERROR(gather(x, 0, idx), "gather", "as many dimensions", "int64[3]", "float32[4,3]");
  CHECK_ERROR(gather(x, 0, zeros({1, 4}, {.dtype = kInt64})), "gather", "larger", "dimension 1");
  CHECK_ERROR(scatter_add(x, 1, gidx, randn({2, 2})), "scatter_add", "index 3", "size 3");
  CHECK_ERROR(scatter_add(x, 0, gidx, randn({2, 1})), "scatter_add", "larger than src",
              "float32[2,1]");
  CHECK_ERROR(scatter_add(x, 0, gidx, randn({2, 2}).to(kFloat64)), "scatter_add", "dtypes");
  CHECK_ERROR(index_select(full({}, 1.0), 0, neg), "index_select", "at least 1 dimension");
  CHECK_ERROR(stack({x, randn({3, 4})}), "stack", "float32[3,4]", "float32[4,3]", "equal shapes");
  CHECK_ERROR(stack({}), "stack", "non-empty");
  CHECK_ERROR(stack({x, x}, 3), "stack", "dimension 3");
  CHECK_ERROR(split(x, 0, 0), "split", "split_size", "float32[4,3]");
  CHECK_ERROR(split(x, {1, 2}, 0), "split", "[1,2]", "do not sum to 4");
  CHECK_ERROR(split(x, {5, -1}, 0), "split", "non-negative");
  CHECK_ERROR(chunk(x, 0, 0), "chunk", "positive");
  CHECK_ERROR(pad(x, {1}), "pad", "pairs", "[1]");
  CHECK_ERROR(pad(x, {1, 1, 1, 1, 1, 1}), "pad", "3 dimensions", "float32[4,3]");
  CHECK_ERROR(pad(x, {-2, -2}), "pad", "crop", "float32[4,3]");
  CHECK_ERROR(repeat(x, {2}), "repeat", "1 repeats", "float32[4,3]");
  CHECK_ERROR(repeat(x, {2, -1}), "repeat", "non-negative");
}
