// Fused softmax and LASER attention against their composite references on
// random inputs (forward and gradients), LASER's robustness where the paper's
// global-max formula underflows, the bounds LASER obeys, and error paths.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include <cfloat>
#include <cmath>
#include <random>

#include "backends/cpu/vector_math.h"
#include "test_util.h"

using namespace lg;

namespace {

struct Inputs {
  Tensor q, k, v;
};

Inputs random_inputs(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t d, DType dtype) {
  TensorOptions o{.dtype = dtype, .requires_grad = true};
  return {randn({B, H, Tq, d}, o), randn({B, H, Tk, d}, o), randn({B, H, Tk, d}, o)};
}

// max |a - b| / (1 + |b|) over all elements.
double max_rel_diff(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  REQUIRE(x.size() == y.size());
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) return INFINITY;
    worst = std::max(worst, std::fabs(x[i] - y[i]) / (1 + std::fabs(y[i])));
  }
  return worst;
}

using AttentionFn = Tensor (*)(const Tensor&, const Tensor&, const Tensor&,
                               const AttentionOptions&);

// Output and q/k/v gradients of fn for a fixed upstream gradient.
std::vector<Tensor> run(AttentionFn fn, const Inputs& in, const AttentionOptions& o,
                        const Tensor& grad_out) {
  Tensor out = fn(in.q, in.k, in.v, o);
  std::vector<Tensor> g = grad({out}, {in.q, in.k, in.v}, {}, {grad_out});
  return {out.detach(), g[0], g[1], g[2]};
}

void check_fused_matches_reference(bool laser, const Inputs& in, const AttentionOptions& o,
                                   double tol) {
  AttentionFn fused = laser ? laser_attention : scaled_dot_product_attention;
  AttentionFn ref = laser ? laser_attention_reference : scaled_dot_product_attention_reference;
  Tensor grad_out = randn(fused(in.q, in.k, in.v, o).shape(), {.dtype = in.q.dtype()});
  std::vector<Tensor> a = run(fused, in, o, grad_out), b = run(ref, in, o, grad_out);
  const char* what[] = {"output", "dq", "dk", "dv"};
  for (int i = 0; i < 4; ++i) {
    CAPTURE(what[i]);
    CHECK(max_rel_diff(a[i], b[i]) < tol);
  }
}

// Restores the thread count a test changed.
struct Threads {
  int saved = get_num_threads();
  explicit Threads(int n) { set_num_threads(n); }
  ~Threads() { set_num_threads(saved); }
};

// Shapes where, on 2 threads, B * H = 1 or 3 slices are too few for the
// threads, so the backward splits each slice's keys into chunks (at most one
// per key tile): Tk = 64 is one key tile (one chunk), 200 is not a tile
// multiple, 513 ends in a one-key tile; Tq != Tk both ways.
struct ChunkedCase {
  int64_t H, Tq, Tk;
};
constexpr ChunkedCase kChunkedCases[] = {{1, 64, 64},   {1, 200, 200}, {1, 513, 513},
                                         {1, 200, 513}, {1, 513, 200}, {3, 200, 200},
                                         {3, 513, 513}, {3, 130, 513}};

}  // namespace

TEST_CASE("fused attention matches the composite reference on random inputs, on every CPU path") {
  manual_seed(42);
  struct Case {
    int64_t B, H, Tq, Tk, d;
    bool causal;
  };
  std::vector<Case> cases = {{1, 1, 1, 1, 16, false},   {2, 3, 70, 70, 16, true},
                             {1, 2, 130, 100, 32, false}, {1, 2, 100, 130, 64, true},
                             {2, 1, 65, 129, 128, true},  {1, 1, 200, 64, 32, true}};
  for (bool laser : {false, true}) {
    for (const Case& c : cases) {
      CAPTURE(laser);
      CAPTURE(c.Tq);
      CAPTURE(c.Tk);
      CAPTURE(c.d);
      Inputs in64 = random_inputs(c.B, c.H, c.Tq, c.Tk, c.d, kFloat64);
      check_fused_matches_reference(laser, in64, {.causal = c.causal}, 1e-12);
      // float32 runs the vectorised exp and log: every CPU path.
      Inputs in32 = random_inputs(c.B, c.H, c.Tq, c.Tk, c.d, kFloat32);
      for_each_cpu_isa(
          [&] { check_fused_matches_reference(laser, in32, {.causal = c.causal}, 2e-5); });
    }
  }
}

TEST_CASE("few slices on 2 threads: the key-chunked backward matches the reference") {
  Threads two(2);
  manual_seed(50);
  for (const ChunkedCase& c : kChunkedCases) {
    for (bool causal : {false, true}) {
      for (bool masked : {false, true}) {
        CAPTURE(c.H);
        CAPTURE(c.Tq);
        CAPTURE(c.Tk);
        CAPTURE(causal);
        CAPTURE(masked);
        // Key 0 kept for every row, so that only causal hides all of a row's keys.
        Tensor keep = gt(rand({1, c.H, c.Tq, c.Tk}), 0.3);
        {
          NoGradGuard no_grad;
          keep.select(3, 0).fill_(true);
        }
        const AttentionOptions o{.causal = causal, .mask = masked ? keep : Tensor()};
        for (bool laser : {false, true}) {
          for (DType dtype : {kFloat32, kFloat64}) {
            CAPTURE(laser);
            CAPTURE(dtype_name(dtype));
            Inputs in = random_inputs(1, c.H, c.Tq, c.Tk, 16, dtype);
            check_fused_matches_reference(laser, in, o, dtype == kFloat32 ? 2e-5 : 1e-12);
          }
        }
      }
    }
  }
}

// The chunked backward sums dQ over the chunks in another order than one
// thread does (one chunk per slice), so the two agree to rounding. With a
// large value late in the sequence, causal LASER also flags rows for its
// exact path, which the chunked backward runs after the chunks.
TEST_CASE("few slices: the backward on 2 threads equals the one on 1 thread") {
  manual_seed(51);
  for (const ChunkedCase& c : kChunkedCases) {
    for (bool causal : {false, true}) {
      for (bool laser : {false, true}) {
        for (DType dtype : {kFloat32, kFloat64}) {
          CAPTURE(c.H);
          CAPTURE(c.Tq);
          CAPTURE(c.Tk);
          CAPTURE(causal);
          CAPTURE(laser);
          CAPTURE(dtype_name(dtype));
          Inputs in = random_inputs(1, c.H, c.Tq, c.Tk, 16, dtype);
          if (laser) {  // beyond kFlagGap below the tiles' shift: 60 (float32), 650 (float64)
            NoGradGuard no_grad;
            in.v.select(2, c.Tk * 3 / 4).fill_(dtype == kFloat32 ? 150.0 : 1000.0);
          }
          AttentionFn fn = laser ? laser_attention : scaled_dot_product_attention;
          const AttentionOptions o{.causal = causal};
          Tensor grad_out = randn({1, c.H, c.Tq, 16}, {.dtype = dtype});
          std::vector<Tensor> one, two;
          {
            Threads t(1);
            one = run(fn, in, o, grad_out);
          }
          {
            Threads t(2);
            two = run(fn, in, o, grad_out);
          }
          const char* what[] = {"output", "dq", "dk", "dv"};
          for (int i = 0; i < 4; ++i) {
            CAPTURE(what[i]);
            CHECK(max_rel_diff(two[i], one[i]) < (dtype == kFloat32 ? 1e-5 : 1e-12));
          }
        }
      }
    }
  }
}

// Heads split from one packed [B, T, 3, H, d] projection are read in place
// (no copy), the output comes back laid out as [B, T, H, d], and values and
// gradients equal the reference's, also for a permuted or broadcast upstream
// gradient and for Tq != Tk with a mask.
TEST_CASE("heads read in place from a packed projection match the reference") {
  manual_seed(47);
  for (bool laser : {false, true}) {
    for (DType dtype : {kFloat32, kFloat64}) {
      CAPTURE(laser);
      CAPTURE(dtype_name(dtype));
      const double tol = dtype == kFloat32 ? 2e-5 : 1e-12;
      const int64_t B = 2, T = 70, H = 3, d = 16;
      Tensor qkv = randn({B, T, 3, H, d}, {.dtype = dtype, .requires_grad = true});
      auto heads = [&](const Tensor& packed, int64_t i) {
        return packed.select(2, i).permute({0, 2, 1, 3});
      };
      AttentionFn fused = laser ? laser_attention : scaled_dot_product_attention;
      AttentionFn ref =
          laser ? laser_attention_reference : scaled_dot_product_attention_reference;
      Tensor keep = gt(rand({B, 1, T, T}), 0.2);
      for (int upstream = 0; upstream < 3; ++upstream) {
        CAPTURE(upstream);
        const AttentionOptions o = upstream == 2 ? AttentionOptions{.causal = true, .mask = keep}
                                                 : AttentionOptions{};
        Tensor a = fused(heads(qkv, 0), heads(qkv, 1), heads(qkv, 2), o);
        Tensor b = ref(heads(qkv, 0), heads(qkv, 1), heads(qkv, 2), o);
        CHECK(a.strides()[1] < a.strides()[2]);  // [B, T, H, d] in memory
        CHECK(a.permute({0, 2, 1, 3}).is_contiguous());
        CHECK(max_rel_diff(a, b) < tol);
        // A [B, T, H, d] gradient seen through the permute, or an expanded one.
        Tensor g = upstream == 1 ? full({}, 0.5, {.dtype = dtype}).expand(a.shape())
                                 : randn({B, T, H, d}, {.dtype = dtype}).permute({0, 2, 1, 3});
        Tensor ga = grad({a}, {qkv}, {}, {g})[0], gb = grad({b}, {qkv}, {}, {g})[0];
        CHECK(max_rel_diff(ga, gb) < tol);
      }
    }
  }
}

TEST_CASE("masks: bool keep-masks and additive masks, broadcast, with causal") {
  manual_seed(43);
  for (bool laser : {false, true}) {
    for (DType dtype : {kFloat32, kFloat64}) {
      double tol = dtype == kFloat32 ? 2e-5 : 1e-12;
      Inputs in = random_inputs(2, 2, 75, 90, 16, dtype);
      Tensor keep = gt(rand({2, 1, 75, 90}), 0.3);  // per batch, broadcast over heads
      check_fused_matches_reference(laser, in, {.mask = keep}, tol);
      check_fused_matches_reference(laser, in, {.causal = true, .mask = keep}, tol);
      Tensor additive = randn({90}, {.dtype = dtype});  // broadcast over batch, heads and queries
      check_fused_matches_reference(laser, in, {.mask = additive, .scale = 0.3}, tol);
    }
  }
}

TEST_CASE("a row whose keys are all masked gives output 0 and gradient 0") {
  manual_seed(44);
  for (AttentionFn fn : {laser_attention, scaled_dot_product_attention}) {
    Inputs in = random_inputs(1, 1, 3, 70, 8, kFloat64);
    Tensor keep = ones({3, 70}, {.dtype = kBool});
    {
      NoGradGuard no_grad;
      keep.select(0, 1).fill_(false);
    }
    Tensor out = fn(in.q, in.k, in.v, {.mask = keep});
    CHECK(out.select(2, 1).abs().max().item<double>() == 0);
    sum(out * 3).backward();
    CHECK(in.q.grad().select(2, 1).abs().max().item<double>() == 0);
    CHECK(in.q.grad().all_finite());
    CHECK(in.k.grad().all_finite());
    CHECK(in.v.grad().all_finite());
  }
}

TEST_CASE("LASER is bounded by the softmax average and the max of the attended values") {
  manual_seed(45);
  Inputs in = random_inputs(2, 2, 90, 90, 16, kFloat64);
  {
    NoGradGuard no_grad;
    in.v.mul_(4);
  }
  Tensor o = laser_attention(in.q, in.k, in.v, {.causal = true}).detach();
  Tensor avg = scaled_dot_product_attention(in.q, in.k, in.v, {.causal = true}).detach();
  CHECK(min(o - avg).item<double>() >= -1e-12);
  // causal prefix max of v along the keys
  std::vector<double> v = in.v.to_vector<double>(), out = o.to_vector<double>();
  for (int64_t bh = 0; bh < 4; ++bh)
    for (int64_t c = 0; c < 16; ++c) {
      double running = -INFINITY;
      for (int64_t i = 0; i < 90; ++i) {
        running = std::max(running, v[(bh * 90 + i) * 16 + c]);
        CHECK(out[(bh * 90 + i) * 16 + c] <= running + 1e-12);
      }
    }
}

TEST_CASE("LASER stays finite and accurate where the paper's global-max formula underflows") {
  manual_seed(46);
  struct Case {
    const char* what;
    int64_t T, big_pos;
  };
  // A large value at the last position, future for every earlier row under the
  // causal mask (docs/laser.md's case); one inside the first (diagonal) tile; and one
  // late in a sequence of several tiles, so that the tiles before it need their
  // own shift and those after it can share the slice's.
  for (Case c : {Case{"large value at the end", 64, 63}, Case{"large value in the diagonal tile", 100, 10},
                 Case{"large value late, several tiles", 200, 150}}) {
    CAPTURE(c.what);
    Inputs in64 = random_inputs(1, 2, c.T, c.T, 8, kFloat64);
    {
      NoGradGuard no_grad;
      in64.v.select(2, c.big_pos).fill_(150.0);
    }
    Inputs in32{in64.q.detach().to(kFloat32).requires_grad_(), in64.k.detach().to(kFloat32).requires_grad_(),
                in64.v.detach().to(kFloat32).requires_grad_()};
    AttentionOptions causal{.causal = true};
    // The paper's formula in float32 breaks down...
    Tensor paper32 = laser_attention_reference(in32.q, in32.k, in32.v, causal);
    CHECK_FALSE(paper32.all_finite());
    // ...while the fused kernel in float32 matches the float64 reference.
    Tensor grad_out = randn({1, 2, c.T, 8}, {.dtype = kFloat64});
    std::vector<Tensor> want = run(laser_attention_reference, in64, causal, grad_out);
    std::vector<Tensor> got = run(laser_attention, in32, causal, grad_out.to(kFloat32));
    const char* what[] = {"output", "dq", "dk", "dv"};
    for (int i = 0; i < 4; ++i) {
      CAPTURE(what[i]);
      CHECK(got[i].all_finite());
      CHECK(max_rel_diff(got[i], want[i]) < 1e-4);
    }
  }
}

TEST_CASE("flush-to-zero is off: denormals survive (LASER's thresholds assume it)") {
  volatile float tiny = FLT_MIN;
  volatile float half = tiny / 2.0f;
  CHECK(half > 0.0f);
  Tensor t = exp(full({1}, -100.0f));  // e^-100 is a float32 denormal
  CHECK(t.item<double>() > 0.0);
}

TEST_CASE("fused attention memory grows linearly with the sequence length") {
  manual_seed(47);
  auto extra = [](int64_t T) {
    Inputs in = random_inputs(1, 2, T, T, 32, kFloat32);
    size_t base = memory_allocated();
    reset_peak_memory_allocated();
    sum(laser_attention(in.q, in.k, in.v, {.causal = true})).backward();
    return static_cast<double>(max_memory_allocated() - base);
  };
  double small = extra(256), large = extra(1024);
  CHECK(large / small < 6.0);  // 4x for linear, 16x for a materialised T x T matrix
}

TEST_CASE("attention errors name the op and the shapes") {
  Tensor q = randn({1, 2, 5, 8}), k = randn({1, 2, 6, 8}), v = randn({1, 2, 6, 8});
  CHECK_THROWS_WITH_AS(laser_attention(q.reshape({2, 5, 8}), k, v),
                       doctest::Contains("laser_attention: expected q, k, v of shape [B,H,T,d]"), Error);
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(q, k, randn({1, 2, 7, 8})),
                       doctest::Contains("same number of keys"), Error);
  CHECK_THROWS_WITH_AS(laser_attention(q, randn({1, 2, 6, 4}), v), doctest::Contains("head size"), Error);
  CHECK_THROWS_WITH_AS(laser_attention(q, k, v.to(kFloat64)), doctest::Contains("float64[1,2,6,8]"), Error);
  CHECK_THROWS_WITH_AS(laser_attention(q, randn({1, 3, 6, 8}), randn({1, 3, 6, 8})),
                       doctest::Contains("batch and head"), Error);
  CHECK_THROWS_WITH_AS(laser_attention(q, k, v, {.mask = ones({5, 7}, {.dtype = kBool})}),
                       doctest::Contains("[5,7]"), Error);
  CHECK_THROWS_WITH_AS(laser_attention(q, k, v, {.mask = arange(6)}),
                       doctest::Contains("mask must be bool"), Error);
  CHECK_THROWS_WITH_AS(laser_attention(q, k, v, {.mask = zeros({6}, {.requires_grad = true})}),
                       doctest::Contains("cannot require grad"), Error);
}

TEST_CASE("the vectorised float exp matches std::exp and its edge cases on every CPU path") {
  std::vector<float> x;
  for (float v = -110.0f; v < 90.0f; v += 0.0137f) x.push_back(v);
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 88.7f, 88.75f, -87.5f, -103.9f, -104.5f})
    x.push_back(v);
  x.push_back(-INFINITY);
  x.push_back(INFINITY);
  x.push_back(NAN);
  // Reversed too, so that the edge cases go through the vector loop on every
  // path's width, not only through its scalar tail.
  std::vector<float> reversed(x.rbegin(), x.rend());
  x.insert(x.end(), reversed.begin(), reversed.end());
  for_each_cpu_isa([&] {
    std::vector<float> y = x;
    cpu::exp_inplace(y.data(), static_cast<int64_t>(y.size()));
    int bad = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      float want = std::exp(x[i]);
      if (std::isnan(want)) {
        bad += !std::isnan(y[i]);
      } else if (std::isinf(want) || want == 0.0f) {
        bad += y[i] != want && std::fabs(y[i] - want) > 2 * FLT_TRUE_MIN;
      } else {
        float tol = want < FLT_MIN ? 2 * FLT_TRUE_MIN : 4e-7f * want;  // ~2 ulp; denormals absolute
        bad += std::fabs(y[i] - want) > tol;
      }
    }
    CHECK(bad == 0);
  });
}

TEST_CASE("the vectorised float log matches std::log and its edge cases on every CPU path") {
  std::vector<float> x;
  for (float v = 1e-37f; v < 3e38f; v *= 1.0173f) x.push_back(v);
  for (float v = 0.5f; v < 2.0f; v += 0.00037f) x.push_back(v);
  for (float v : {1.0f, 0.0f, -0.0f, -1.0f, FLT_TRUE_MIN, FLT_MIN, FLT_MAX, INFINITY, NAN})
    x.push_back(v);
  std::vector<float> reversed(x.rbegin(), x.rend());  // edge cases in the vector loop too
  x.insert(x.end(), reversed.begin(), reversed.end());
  for_each_cpu_isa([&] {
    std::vector<float> y = x;
    cpu::log_inplace(y.data(), static_cast<int64_t>(y.size()));
    int bad = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      float want = std::log(x[i]);
      if (std::isnan(want)) bad += !std::isnan(y[i]);
      else if (std::isinf(want)) bad += y[i] != want;
      else bad += std::fabs(y[i] - want) > 2e-7f * std::max(1.0f, std::fabs(want));
    }
    CHECK(bad == 0);
  });
}

TEST_CASE("the fused exp(x - shift) with its sum, and the row max, match scalar loops on every CPU path") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(-30.0f, 5.0f);
  for_each_cpu_isa([&] {
    // Every tail length of every path's width, and rows with -inf (masked
    // keys), a NaN (passed over by the max, carried by the exp) and +inf.
    for (int64_t n : {0, 1, 3, 4, 7, 8, 15, 16, 17, 31, 64, 100}) {
      for (int special = 0; special < 4; ++special) {
        CAPTURE(n);
        CAPTURE(special);
        std::vector<float> x(n);
        for (float& v : x) v = uniform(rng);
        if (n > 0 && special == 1) x[n / 2] = -INFINITY;
        if (n > 0 && special == 2) x[n - 1] = NAN;
        if (n > 0 && special == 3) std::fill(x.begin(), x.end(), -INFINITY);
        float want_max = -INFINITY;
        for (float v : x) want_max = std::max(want_max, v);
        CHECK(cpu::max_float(x.data(), n) == want_max);
        const float shift = n > 0 && std::isfinite(want_max) ? want_max : 0.0f;
        double want_sum = 0;
        std::vector<float> want(n);
        for (int64_t i = 0; i < n; ++i) want_sum += want[i] = std::exp(x[i] - shift);
        std::vector<float> y = x;
        const float sum = cpu::exp_shifted_sum_float(y.data(), n, shift);
        int bad = 0;
        for (int64_t i = 0; i < n; ++i)
          bad += std::isnan(want[i]) ? !std::isnan(y[i]) : std::fabs(y[i] - want[i]) > 4e-7f * want[i];
        CHECK(bad == 0);
        if (std::isnan(want_sum)) CHECK(std::isnan(sum));
        else CHECK(sum == doctest::Approx(want_sum).epsilon(1e-6));
      }
    }
  });
}

TEST_CASE("the attention backward's row helpers match scalar loops on every CPU path") {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> uniform(-20.0f, 3.0f);
  auto random_row = [&](int64_t n) {
    std::vector<float> x(n);
    for (float& v : x) v = uniform(rng);
    return x;
  };
  // Relative to the larger of |want| and 1e-30 (exp's results are positive); NaN and inf exactly.
  auto count_bad = [](const std::vector<float>& got, const std::vector<double>& want, double tol) {
    int bad = 0;
    for (size_t i = 0; i < got.size(); ++i)
      bad += std::isnan(want[i])   ? !std::isnan(got[i])
             : std::isinf(want[i]) ? double(got[i]) != want[i]
                                   : !(std::fabs(got[i] - want[i]) <= tol * std::max(std::fabs(want[i]), 1e-30));
    return bad;
  };
  for_each_cpu_isa([&] {
    for (int64_t n : {0, 1, 3, 4, 7, 8, 15, 16, 17, 31, 64, 100}) {
      CAPTURE(n);
      const std::vector<float> a = random_row(n), b = random_row(n), p = random_row(n);
      std::vector<float> a_special = a;  // -inf (a masked key's score), NaN, +inf
      if (n > 2) {
        a_special[0] = -INFINITY;
        a_special[n / 2] = NAN;
        a_special[n - 1] = INFINITY;
      }
      std::vector<float> e(n);
      std::vector<double> want(n);
      cpu::exp_difference_float(e.data(), a_special.data(), b.data(), n);
      for (int64_t i = 0; i < n; ++i) want[i] = std::exp(double(a_special[i] - b[i]));
      CHECK(count_bad(e, want, 4e-7) == 0);
      std::vector<float> in_place = a_special;  // out may be a
      cpu::exp_difference_float(in_place.data(), in_place.data(), b.data(), n);
      CHECK(count_bad(in_place, want, 4e-7) == 0);

      const float d = 0.37f;
      std::vector<float> dp = b;
      cpu::softmax_grad_row_float(dp.data(), p.data(), n, d);
      for (int64_t i = 0; i < n; ++i) want[i] = double(p[i]) * (double(b[i]) - d);
      CHECK(count_bad(dp, want, 2e-7) == 0);

      std::vector<float> acc = p;
      cpu::multiply_add_float(acc.data(), a.data(), b.data(), n);
      int bad = 0;  // one rounding or two: within 2 ulp of the larger term
      for (int64_t i = 0; i < n; ++i) {
        const double exact = double(p[i]) + double(a[i]) * double(b[i]);
        const double scale = std::max(std::fabs(double(p[i])), std::fabs(double(a[i]) * b[i]));
        bad += std::fabs(acc[i] - exact) > 2.5e-7 * scale;
      }
      CHECK(bad == 0);
    }
  });
}

// docs/laser.md's float32 bound: the gradients lose accuracy as u·max|V|
// (u = 2^-24) since W = exp(v - O) takes v - O from two float32 numbers of
// magnitude |V|; the output is accurate to a few u relative to max|V|.
TEST_CASE("LASER float32 error against float64 stays within the documented bound in |V|") {
  manual_seed(48);
  const double u = std::ldexp(1.0, -24);
  for (double magnitude : {1.0, 1e2, 1e4}) {
    for (bool causal : {false, true}) {
      CAPTURE(magnitude);
      CAPTURE(causal);
      Inputs in64 = random_inputs(1, 2, 100, 100, 16, kFloat64);
      {
        NoGradGuard no_grad;
        in64.v.mul_(magnitude);
      }
      Inputs in32{in64.q.detach().to(kFloat32).requires_grad_(),
                  in64.k.detach().to(kFloat32).requires_grad_(),
                  in64.v.detach().to(kFloat32).requires_grad_()};
      const double max_v = max(abs(in64.v)).item<double>();
      Tensor grad_out = randn({1, 2, 100, 16}, {.dtype = kFloat64});
      std::vector<Tensor> want = run(laser_attention, in64, {.causal = causal}, grad_out);
      std::vector<Tensor> got =
          run(laser_attention, in32, {.causal = causal}, grad_out.to(kFloat32));
      auto error = [&](int i) { return max(abs(got[i].to(kFloat64) - want[i])).item<double>(); };
      CHECK(error(0) <= 4 * u * (max_v + 1));
      const char* what[] = {"output", "dq", "dk", "dv"};
      for (int i = 1; i < 4; ++i) {
        CAPTURE(what[i]);
        const double largest = max(abs(want[i])).item<double>();
        CHECK(error(i) <= (u * max_v + 1e-5) * largest);
      }
    }
  }
}

// docs/laser.md: scores q·k·scale that overflow the dtype give a non-finite
// output in that query's row (NaN for softmax, -inf or NaN for LASER), as
// PyTorch's scaled_dot_product_attention does; every other row is unaffected.
TEST_CASE("attention: a row whose scores overflow float32 is non-finite, other rows are exact") {
  manual_seed(49);
  for (AttentionFn fn : {scaled_dot_product_attention, laser_attention}) {
    for (bool causal : {false, true}) {
      CAPTURE(causal);
      Tensor q = randn({1, 1, 6, 4}), k = randn({1, 1, 6, 4}), v = randn({1, 1, 6, 4});
      {
        NoGradGuard no_grad;
        q.select(2, 2).fill_(1e20f);  // q_2 . k_1 = 4e40 > FLT_MAX
        k.select(2, 1).fill_(1e20f);
      }
      Tensor out = fn(q, k, v, {.causal = causal});
      Tensor out64 = fn(q.to(kFloat64), k.to(kFloat64), v.to(kFloat64), {.causal = causal});
      for (int64_t i = 0; i < 6; ++i) {
        CAPTURE(i);
        Tensor row = out.select(2, i);
        if (i == 2) {
          CHECK_FALSE(row.all_finite());
        } else {
          CHECK(max_rel_diff(row, out64.select(2, i)) < 1e-5);
        }
      }
    }
  }
}
