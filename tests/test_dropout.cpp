// dropout: identity in eval and for p = 0, zeros for p = 1, a mask drawn from
// the seeded global generator with keep rate 1 - p and scale 1/(1-p), the
// same mask in the backward, the CPU's one-pass mask bit for bit the
// rand/lt formula's, and errors for a bad p.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include <cmath>

#include "backends/cpu/vector_math.h"
#include "core/kernels.h"
#include "core/philox.h"
#include "test_util.h"

using namespace lg;

TEST_CASE("dropout is the identity in eval mode and for p = 0, zeros for p = 1") {
  Tensor x = randn({3, 4}, {.requires_grad = true});
  CHECK(dropout(x, 0.5, /*train=*/false).is_same(x));
  CHECK(dropout(x, 0.0, true).is_same(x));
  Tensor z = dropout(x, 1.0, true);
  CHECK(z.to_vector<float>() == std::vector<float>(12, 0.0f));
  sum(z).backward();
  CHECK(x.grad().to_vector<float>() == std::vector<float>(12, 0.0f));
}

TEST_CASE(
    "dropout keeps 1 - p of the elements, scaled, reproducibly, with the mask in the backward") {
  for (DType dtype : {kFloat32, kFloat64}) {
    const double p = 0.3;
    manual_seed(42);
    Tensor x = rand({200, 300}, {.dtype = dtype});
    x = (x + 0.5).detach().requires_grad_();  // away from 0, so kept elements are nonzero
    manual_seed(9);
    Tensor y = dropout(x, p, true);
    std::vector<double> xv = x.to_vector<double>(), yv = y.to_vector<double>();
    int64_t kept = 0;
    double worst = 0;  // relative error of the kept values against x / (1 - p)
    for (size_t i = 0; i < xv.size(); ++i) {
      if (yv[i] != 0) {
        ++kept;
        worst = std::max(worst, std::fabs(yv[i] - xv[i] / (1 - p)) / std::fabs(yv[i]));
      }
    }
    CHECK(worst <= 1e-6);
    const double rate = static_cast<double>(kept) / static_cast<double>(xv.size());
    CHECK(rate == doctest::Approx(1 - p).epsilon(0.02));

    manual_seed(9);
    CHECK(dropout(x, p, true).to_vector<double>() == yv);  // same seed, same mask
    CHECK(dropout(x, p, true).to_vector<double>() != yv);  // the generator moved on

    Tensor g = randn({200, 300}, {.dtype = dtype});
    std::vector<double> gv = g.to_vector<double>();
    std::vector<double> dx = grad({y}, {x}, {}, {g})[0].to_vector<double>();
    for (size_t i = 0; i < xv.size(); i += 97) {
      double want = yv[i] == 0 ? 0.0 : gv[i] / (1 - p);
      CHECK(std::fabs(dx[i] - want) <= 1e-6 * std::max(1.0, std::fabs(want)));
    }
  }
}

namespace {
// The mask dropout drew before its one-pass kernel (and still draws without one).
Tensor formula_mask(const Tensor& u, double p) {
  return lt(u, 1 - p).to(u.dtype()) * (1.0 / (1 - p));
}
}  // namespace

TEST_CASE("dropout's one-pass CPU mask is the rand/lt formula's, bit for bit") {
  for (DType dtype : {kFloat32, kFloat64})
    for (double p : {1e-3, 0.1, 0.3, 0.5, 0.9}) {
      CAPTURE(dtype_name(dtype));
      CAPTURE(p);
      const Shape shape = {7, 13};  // 91 elements: the last Philox block is partial
      manual_seed(5);
      rand({3});  // the mask starts after other draws
      std::vector<double> want = formula_mask(rand(shape, {.dtype = dtype}), p).to_vector<double>();
      RngState after = get_rng_state();
      manual_seed(5);
      rand({3});
      CHECK(dropout(ones(shape, {.dtype = dtype}), p).to_vector<double>() == want);
      CHECK(get_rng_state() == after);  // the same counters used
    }
}

TEST_CASE("the dropout_mask kernel draws uniform's words at any counter offset") {
  for (DType dtype : {kFloat32, kFloat64}) {
    CAPTURE(dtype_name(dtype));
    const KernelTable& k = kernel_table(Device::cpu(), dtype);
    REQUIRE((k.dropout_mask != nullptr));
    for (uint64_t offset : {uint64_t{0}, uint64_t{6}, uint64_t{13}}) {
      CAPTURE(offset);
      Tensor u = empty({37}, {.dtype = dtype}), mask = empty({37}, {.dtype = dtype});
      k.uniform(u, 0.0, 1.0, 77, offset);
      k.dropout_mask(mask, 0.4, 77, offset);
      CHECK(mask.to_vector<double>() == formula_mask(u, 0.4).to_vector<double>());
    }
  }
}

TEST_CASE("the vectorised float dropout mask is Philox's, word by word, on every CPU path") {
  const uint64_t seed = 0x5eed1234abcdull;
  for_each_cpu_isa([&] {
    for (uint64_t first_block : {uint64_t{0}, uint64_t{3}, uint64_t{(1ull << 32) - 2}}) {
      // Whole vector groups, a partial block and a partial group.
      for (int64_t n : {int64_t{256}, int64_t{1}, int64_t{7}, int64_t{70}, int64_t{1023}}) {
        CAPTURE(first_block);
        CAPTURE(n);
        for (float keep : {0.0f, 0.3f, 1.0f}) {
          std::vector<float> got(n, -1.0f);
          cpu::philox_dropout_mask_float(got.data(), n, seed, first_block, keep, 2.5f);
          int bad = 0;
          for (int64_t i = 0; i < n; ++i) {
            const uint32_t w = philox::word(seed, first_block * 4, static_cast<uint64_t>(i));
            const double u = (w >> 8) * (1.0 / 16777216.0);
            bad += got[i] != (u < keep ? 2.5f : 0.0f);
          }
          CHECK(bad == 0);
        }
      }
    }
  });
}

TEST_CASE("dropout errors") {
  Tensor x = randn({2, 3});
  for (double p : {-0.1, 1.5, std::nan("")}) {
    CHECK_THROWS_WITH_AS(dropout(x, p, true),
                         doctest::Contains("dropout: probability has to be between 0 and 1"),
                         Error);
  }
  CHECK_THROWS_WITH_AS(dropout(arange(6), 0.5, true), doctest::Contains("int64[6]"), Error);
  CHECK_THROWS_WITH_AS(dropout(Tensor(), 0.5, true), doctest::Contains("dropout"), Error);
}
