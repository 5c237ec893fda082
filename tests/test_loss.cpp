// Losses: cross_entropy and nll_loss against float64 references on random
// logits (ignore_index, label smoothing, every reduction), the fused
// cross-entropy backward against the composite, mse_loss, ctc_loss against
// brute-force enumeration of all alignments, and the error paths.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include "test_util.h"

#include <cmath>
#include <functional>
#include <limits>
#include <random>

using namespace lg;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

Tensor rnd(const Shape& shape, DType dtype, double lo = -3, double hi = 3) {
  return random_uniform(shape, dtype, lo, hi);
}

std::vector<int64_t> random_labels(size_t n, int64_t C, int64_t ignore_every, unsigned seed) {
  std::mt19937 gen(seed);
  std::vector<int64_t> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = ignore_every && i % ignore_every == 1 ? -100 : static_cast<int64_t>(gen() % C);
  return v;
}


// Per-row cross entropy of row-major logits [N,C] in long double.
std::vector<double> reference_ce(const std::vector<double>& x, const std::vector<int64_t>& t,
                                 int64_t C, double smoothing) {
  std::vector<double> out(t.size());
  for (size_t r = 0; r < t.size(); ++r) {
    if (t[r] == -100) continue;
    long double m = -kInf, s = 0, mean_nll = 0;
    for (int64_t c = 0; c < C; ++c) m = std::max<long double>(m, x[r * C + c]);
    for (int64_t c = 0; c < C; ++c) s += std::exp(x[r * C + c] - m);
    long double lse = m + std::log(s);
    for (int64_t c = 0; c < C; ++c) mean_nll += (lse - x[r * C + c]) / C;
    out[r] = static_cast<double>((1 - smoothing) * (lse - x[r * C + t[r]]) + smoothing * mean_nll);
  }
  return out;
}

double reduce_ref(const std::vector<double>& rows, const std::vector<int64_t>& t, Reduction r) {
  double total = 0;
  int64_t count = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    total += rows[i];
    count += t[i] != -100;
  }
  return r == Reduction::Sum ? total : total / static_cast<double>(count);
}

}  // namespace

TEST_CASE("cross_entropy matches a float64 reference for every reduction and smoothing") {
  manual_seed(21);
  const Shape shape{2, 5, 11};  // [B,T,V]
  const int64_t C = 11, N = 10;
  for (DType dtype : {kFloat32, kFloat64})
    for (double smoothing : {0.0, 0.15})
      for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
        INFO(std::string(dtype_name(dtype))
             << " smoothing " << smoothing << " reduction " << static_cast<int>(r));
        Tensor x = rnd(shape, dtype);
        std::vector<int64_t> labels = random_labels(N, C, 3, 5);
        Tensor t = from_vector(labels, {2, 5});
        Tensor loss = cross_entropy(x, t, {.label_smoothing = smoothing, .reduction = r});
        auto rows = reference_ce(x.to_vector<double>(), labels, C, smoothing);
        double tol = dtype == kFloat32 ? 2e-6 : 1e-13;
        if (r == Reduction::None) {
          CHECK(loss.shape() == Shape{2, 5});
          check_close(loss, rows, tol);
        } else {
          CHECK(loss.dim() == 0);
          check_close(loss, {reduce_ref(rows, labels, r)}, tol);
        }
      }
}

TEST_CASE("the fused cross_entropy backward matches the composite and nll_loss(log_softmax)") {
  manual_seed(22);
  const int64_t C = 37;
  for (DType dtype : {kFloat32, kFloat64})
    for (double smoothing : {0.0, 0.1})
      for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
        Tensor x = rnd({3, 4, C}, dtype).requires_grad_(true);
        std::vector<int64_t> labels = random_labels(12, C, 4, 6);
        Tensor t = from_vector(labels, {3, 4});
        Tensor w = r == Reduction::None ? rnd({3, 4}, dtype) : full({}, 1.7, {.dtype = dtype});
        CrossEntropyOptions o{.label_smoothing = smoothing, .reduction = r};
        Tensor fused = grad({sum(cross_entropy(x, t, o) * w)}, {x})[0];
        Tensor composite =
            grad({sum(cross_entropy(x, t, o) * w)}, {x}, {.create_graph = true})[0].detach();
        // The unfused formula: nll_loss of log_softmax, mixed with the mean -log p.
        Tensor lp = log_softmax(x, -1);
        Tensor live = ne(t, full({}, int64_t{-100}, {.dtype = kInt64})).to(dtype);
        Tensor rows = nll_loss(lp, t, {.reduction = Reduction::None}) * (1 - smoothing) -
                      smoothing * mean(lp, -1) * live;
        Tensor ref_loss = r == Reduction::None  ? rows
                          : r == Reduction::Sum ? sum(rows)
                                                : sum(rows) / sum(live);
        Tensor unfused = grad({sum(ref_loss * w)}, {x})[0];
        double tol = dtype == kFloat32 ? 1e-5 : 1e-12;
        check_close(fused, composite.to_vector<double>(), tol);
        check_close(fused, unfused.to_vector<double>(), tol);
        check_close(cross_entropy(x, t, o), ref_loss.to_vector<double>(), tol);
      }
}

TEST_CASE("cross_entropy at GPT-like shapes: large logits, ignored rows, every target ignored") {
  manual_seed(23);
  Tensor x = rnd({4, 3, 50}, kFloat32, -1e4, 1e4).requires_grad_(true);
  std::vector<int64_t> labels = random_labels(12, 50, 5, 7);
  Tensor t = from_vector(labels, {4, 3});
  Tensor loss = cross_entropy(x, t);
  CHECK(loss.all_finite());
  check_close(
      loss,
      {reduce_ref(reference_ce(x.to_vector<double>(), labels, 50, 0), labels, Reduction::Mean)},
      1e-6);
  loss.backward();
  CHECK(x.grad().all_finite());
  CHECK(x.grad().select(0, 0).select(0, 1).abs().sum().item<double>() == 0.0);  // ignored row
  Tensor all_ignored = full({2}, int64_t{-100}, {.dtype = kInt64});
  CHECK(std::isnan(cross_entropy(rnd({2, 3}, kFloat32), all_ignored).item<double>()));
  CHECK(cross_entropy(rnd({2, 3}, kFloat32), all_ignored, {.reduction = Reduction::Sum})
            .item<double>() == 0.0);
  CHECK(cross_entropy(x, t).grad_fn()->has_fused_backward());
}

TEST_CASE("nll_loss matches a reference and tolerates -inf at other classes") {
  manual_seed(24);
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor lp = rnd({6, 5}, dtype, -4, 0);
    std::vector<int64_t> labels = random_labels(6, 5, 4, 8);
    Tensor t = from_vector(labels, {6});
    std::vector<double> v = lp.to_vector<double>(), rows(6);
    for (size_t r = 0; r < 6; ++r) rows[r] = labels[r] == -100 ? 0 : -v[r * 5 + labels[r]];
    check_close(nll_loss(lp, t, {.reduction = Reduction::None}), rows, 1e-6);
    check_close(nll_loss(lp, t), {reduce_ref(rows, labels, Reduction::Mean)}, 1e-6);
    check_close(nll_loss(lp, t, {.reduction = Reduction::Sum}),
                {reduce_ref(rows, labels, Reduction::Sum)}, 1e-6);
  }
  Tensor masked = from_vector(std::vector<double>{-kInf, -0.1, -kInf, -2.0}, {2, 2});
  CHECK(nll_loss(masked, from_vector(std::vector<int64_t>{1, 1}, {2})).item<double>() ==
        doctest::Approx(1.05));
}

TEST_CASE("the Mean divides by the targets not ignore_index: NaN when all are, 0 gradient there") {
  manual_seed(29);
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor x = rnd({5, 4}, dtype).requires_grad_(true);
    Tensor t = from_vector(std::vector<int64_t>{2, 1, 2, 0, 2}, {5});
    const CrossEntropyOptions by_mean{.ignore_index = 2};
    const CrossEntropyOptions by_sum{.ignore_index = 2, .reduction = Reduction::Sum};
    Tensor g_mean = grad({cross_entropy(x, t, by_mean)}, {x})[0];
    Tensor g_sum = grad({cross_entropy(x, t, by_sum)}, {x})[0];
    check_close(g_mean, g_sum / 2.0, 1e-6);  // two targets count
    Tensor composite = grad({cross_entropy(x, t, by_mean)}, {x}, {.create_graph = true})[0];
    check_close(composite.detach(), g_sum / 2.0, 1e-6);
    const NllLossOptions nll{.ignore_index = 2};
    check_close(nll_loss(x, t, nll), {-(x.to_vector<double>()[5] + x.to_vector<double>()[12]) / 2},
                1e-6);
    Tensor none = full({5}, int64_t{2}, {.dtype = kInt64});
    CHECK(std::isnan(nll_loss(x, none, nll).item<double>()));
    CHECK(std::isnan(cross_entropy(x, none, by_mean).item<double>()));
    Tensor fused = grad({cross_entropy(x, none, by_mean)}, {x})[0];
    CHECK(fused.abs().sum().item<double>() == 0.0);  // every row ignored
    Tensor second = grad({cross_entropy(x, none, by_mean)}, {x}, {.create_graph = true})[0];
    CHECK(second.abs().sum().item<double>() == 0.0);  // the composite agrees (not 0 * inf)
  }
}

TEST_CASE("mse_loss matches a reference, broadcasting") {
  manual_seed(25);
  for (DType dtype : {kFloat32, kFloat64}) {
    Tensor a = rnd({3, 4}, dtype), b = rnd({4}, dtype);
    std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>(), sq(12);
    double total = 0;
    for (size_t i = 0; i < 12; ++i) total += sq[i] = (av[i] - bv[i % 4]) * (av[i] - bv[i % 4]);
    check_close(mse_loss(a, b, Reduction::None), sq, 1e-6);
    check_close(mse_loss(a, b), {total / 12}, 1e-6);
    check_close(mse_loss(a, b, Reduction::Sum), {total}, 1e-6);
  }
}

namespace {

// CTC by brute force: every one of the C^T frame labellings, collapsed
// (merge repeats, then drop blanks); returns -log p(target) and its gradient
// d/d log_probs[t][c] = -(mass of matching paths with label c at t) / p.
std::pair<double, std::vector<double>> ctc_brute_force(const std::vector<double>& lp, int64_t T,
                                                       int64_t C,
                                                       const std::vector<int64_t>& target,
                                                       int64_t blank) {
  std::vector<double> occupancy(T * C, 0.0);
  double total = 0;
  std::vector<int64_t> path(T, 0);
  int64_t count = 1;
  for (int64_t t = 0; t < T; ++t) count *= C;
  for (int64_t k = 0; k < count; ++k) {
    for (int64_t t = 0, r = k; t < T; ++t, r /= C) path[t] = r % C;
    std::vector<int64_t> collapsed;
    for (int64_t t = 0; t < T; ++t)
      if (path[t] != blank && (t == 0 || path[t] != path[t - 1])) collapsed.push_back(path[t]);
    if (collapsed != target) continue;
    double log_p = 0;
    for (int64_t t = 0; t < T; ++t) log_p += lp[t * C + path[t]];
    total += std::exp(log_p);
    for (int64_t t = 0; t < T; ++t) occupancy[t * C + path[t]] += std::exp(log_p);
  }
  std::vector<double> grad(T * C, 0.0);
  if (total == 0) return {kInf, grad};
  for (int64_t i = 0; i < T * C; ++i) grad[i] = -occupancy[i] / total;
  return {-std::log(total), grad};
}

}  // namespace

TEST_CASE("ctc_loss and its gradient match brute-force enumeration of all alignments") {
  manual_seed(26);
  // Samples: a repeated label (needs a blank between), a shorter input, an
  // empty target, an impossible alignment (3 frames for [2,2,2] needs 5), and
  // a sample with blank = 2 in a separate run below.
  const int64_t T = 5, N = 5, C = 3, S = 3;
  std::vector<std::vector<int64_t>> targets = {{1, 1}, {2, 1, 2}, {}, {2, 2, 2}, {1}};
  std::vector<int64_t> in_len = {5, 4, 3, 3, 5};
  for (int64_t blank : {0, 2}) {
    std::vector<std::vector<int64_t>> tg = targets;
    if (blank == 2)  // relabel class 2 as 0 so that no target is the blank
      for (auto& v : tg)
        for (auto& l : v) l = l == 2 ? 0 : l;
    std::vector<int64_t> padded(N * S, 0), tg_len(N);
    for (int64_t n = 0; n < N; ++n) {
      tg_len[n] = static_cast<int64_t>(tg[n].size());
      for (int64_t s = 0; s < tg_len[n]; ++s) padded[n * S + s] = tg[n][s];
    }
    Tensor lp = log_softmax(rnd({T, N, C}, kFloat64, -2, 2), -1).detach().requires_grad_(true);
    Tensor targets_t = from_vector(padded, {N, S});
    Tensor il = from_vector(in_len, {N}), tl = from_vector(tg_len, {N});
    Tensor losses = ctc_loss(lp, targets_t, il, tl, {.blank = blank, .reduction = Reduction::None});
    Tensor w = rnd({N}, kFloat64);
    losses.backward(w);
    std::vector<double> lpv = lp.to_vector<double>(), gv = lp.grad().to_vector<double>();
    std::vector<double> lv = losses.to_vector<double>();
    for (int64_t n = 0; n < N; ++n) {
      INFO("blank " << blank << " sample " << n);
      std::vector<double> sample(in_len[n] * C);
      for (int64_t t = 0; t < in_len[n]; ++t)
        for (int64_t c = 0; c < C; ++c) sample[t * C + c] = lpv[(t * N + n) * C + c];
      auto [want_loss, want_grad] = ctc_brute_force(sample, in_len[n], C, tg[n], blank);
      if (std::isinf(want_loss)) {
        CHECK(std::isinf(lv[n]));
      } else {
        CHECK(lv[n] == doctest::Approx(want_loss).epsilon(1e-12));
      }
      double wn = w.to_vector<double>()[n];
      for (int64_t t = 0; t < T; ++t)
        for (int64_t c = 0; c < C; ++c) {
          double want = t < in_len[n] ? want_grad[t * C + c] * wn : 0.0;
          CHECK(gv[(t * N + n) * C + c] == doctest::Approx(want).epsilon(1e-10));
        }
    }
  }
}

TEST_CASE("ctc_loss reductions and zero_infinity") {
  manual_seed(27);
  Tensor lp = log_softmax(rnd({4, 3, 4}, kFloat32), -1).detach().requires_grad_(true);
  Tensor targets = from_vector(std::vector<int64_t>{1, 2, 3, 3, 3, 0, 2, 0, 0}, {3, 3});
  Tensor il = from_vector(std::vector<int64_t>{4, 4, 2}, {3});
  Tensor tl = from_vector(std::vector<int64_t>{3, 2, 1}, {3});
  std::vector<double> per =
      ctc_loss(lp, targets, il, tl, {.reduction = Reduction::None}).to_vector<double>();
  double mean = (per[0] / 3 + per[1] / 2 + per[2] / 1) / 3;
  CHECK(ctc_loss(lp, targets, il, tl).item<double>() == doctest::Approx(mean).epsilon(1e-6));
  CHECK(ctc_loss(lp, targets, il, tl, {.reduction = Reduction::Sum}).item<double>() ==
        doctest::Approx(per[0] + per[1] + per[2]).epsilon(1e-6));

  // [3,3,3] needs 5 frames: infinite loss, or 0 with zero gradient under zero_infinity.
  Tensor impossible = from_vector(std::vector<int64_t>{1, 2, 0, 3, 3, 3, 2, 0, 0}, {3, 3});
  Tensor tl2 = from_vector(std::vector<int64_t>{2, 3, 1}, {3});
  Tensor inf_loss = ctc_loss(lp, impossible, il, tl2, {.reduction = Reduction::None});
  CHECK(std::isinf(inf_loss.to_vector<double>()[1]));
  Tensor zeroed = ctc_loss(lp, impossible, il, tl2, {.zero_infinity = true});
  CHECK(std::isfinite(zeroed.item<double>()));
  zeroed.backward();
  CHECK(lp.grad().all_finite());
  CHECK(lp.grad().select(1, 1).abs().sum().item<double>() == 0.0);
  CHECK(lp.grad().select(1, 0).abs().sum().item<double>() > 0.0);
}

TEST_CASE("ctc_loss Mean weighs sample n by 1 / (max(target length, 1) * N), zero_infinity too") {
  manual_seed(30);
  Tensor lp = log_softmax(rnd({4, 3, 4}, kFloat64), -1).detach().requires_grad_(true);
  // Sample 1 is impossible ([3,3,3] needs 5 frames), sample 2 has no labels.
  Tensor targets = from_vector(std::vector<int64_t>{1, 2, 0, 3, 3, 3, 0, 0, 0}, {3, 3});
  Tensor il = from_vector(std::vector<int64_t>{4, 4, 3}, {3});
  Tensor tl = from_vector(std::vector<int64_t>{2, 3, 0}, {3});
  auto loss = [&](Reduction r, bool zero_infinity) {
    return ctc_loss(lp, targets, il, tl, {.reduction = r, .zero_infinity = zero_infinity});
  };
  std::vector<double> per = loss(Reduction::None, false).to_vector<double>();
  CHECK(std::isinf(per[1]));
  CHECK(std::isfinite(per[0]));
  CHECK(std::isfinite(per[2]));
  check_close(loss(Reduction::None, true), {per[0], 0.0, per[2]}, 1e-12);
  check_close(loss(Reduction::Sum, true), {per[0] + per[2]}, 1e-12);
  check_close(loss(Reduction::Mean, true), {(per[0] / 2 + per[2] / 1) / 3}, 1e-12);
  CHECK(std::isinf(loss(Reduction::Mean, false).item<double>()));
  Tensor weights = from_vector(std::vector<double>{1.0 / 6, 0.0, 1.0 / 3}, {3});
  Tensor g_mean = grad({loss(Reduction::Mean, true)}, {lp})[0];
  Tensor g_weighted = grad({sum(loss(Reduction::None, true) * weights)}, {lp})[0];
  check_close(g_mean, g_weighted, 1e-12);
}

TEST_CASE("ctc_loss has no double backward: create_graph throws clearly") {
  Tensor lp = log_softmax(randn({3, 1, 3}, {.dtype = kFloat64}), -1).detach().requires_grad_(true);
  Tensor loss = ctc_loss(lp, from_vector(std::vector<int64_t>{1}, {1, 1}),
                         from_vector(std::vector<int64_t>{3}, {1}),
                         from_vector(std::vector<int64_t>{1}, {1}));
  CHECK_THROWS_WITH_AS(
      grad({loss}, {lp}, {.create_graph = true}),
      doctest::Contains("ctc_loss: double backward (create_graph=true) is not supported"), Error);
}

TEST_CASE("loss errors name the op, the values and the shapes") {
  Tensor x = randn({4, 5});
  auto labels = [](std::vector<int64_t> v, const Shape& s) { return from_vector(v, s); };
  CHECK_THROWS_WITH_AS(
      cross_entropy(x, labels({1, 7, 0, 2}, {4})),
      doctest::Contains("cross_entropy: target 7 (at flat index 1) is out of range for 5 classes"),
      Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, labels({1, -1, 0, 2}, {4})), doctest::Contains("target -1"),
                       Error);
  CHECK_THROWS_WITH_AS(
      cross_entropy(x, randn({4})),
      doctest::Contains("cross_entropy: target must hold int64 class indices, got float32[4]"),
      Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, labels({1, 2, 3}, {3})),
                       doctest::Contains("cross_entropy: target int64[3]"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, labels({1, 2, 3, 4}, {4}), {.label_smoothing = 1.5}),
                       doctest::Contains("label_smoothing must lie in [0, 1], got 1.5"), Error);
  CHECK_THROWS_WITH_AS(
      cross_entropy(labels({1, 2}, {1, 2}), labels({1}, {1})),
      doctest::Contains("cross_entropy: needs floating-point scores, got int64[1,2]"), Error);
  CHECK_THROWS_WITH_AS(nll_loss(x, labels({0, 0, 5, 0}, {4})),
                       doctest::Contains("nll_loss: target 5"), Error);
  CHECK_THROWS_WITH_AS(mse_loss(randn({3, 4}), randn({5})),
                       doctest::Contains("mse_loss: shapes [3,4] and [5] cannot be broadcast"),
                       Error);

  Tensor lp = randn({4, 2, 3});
  Tensor tg = labels({1, 2, 1, 0}, {2, 2}), len2 = labels({4, 4}, {2}), tl = labels({2, 1}, {2});
  CHECK_THROWS_WITH_AS(
      ctc_loss(randn({4, 3}), tg, len2, tl),
      doctest::Contains("ctc_loss: log_probs must be a floating [T,N,C] tensor, got float32[4,3]"),
      Error);
  CHECK_THROWS_WITH_AS(ctc_loss(lp, labels({1, 2, 1}, {3, 1}), len2, tl),
                       doctest::Contains("targets must be int64 [N,S] (padded) with N = 2"), Error);
  CHECK_THROWS_WITH_AS(ctc_loss(lp, tg, labels({5, 4}, {2}), tl),
                       doctest::Contains("input length 5 of sample 0 is out of range for 4 frames"),
                       Error);
  CHECK_THROWS_WITH_AS(ctc_loss(lp, tg, len2, labels({3, 1}, {2})),
                       doctest::Contains("target length 3 of sample 0"), Error);
  CHECK_THROWS_WITH_AS(
      ctc_loss(lp, labels({1, 0, 1, 0}, {2, 2}), len2, tl),
      doctest::Contains("target 0 of sample 0 is out of range for 3 classes or is the blank (0)"),
      Error);
  CHECK_THROWS_WITH_AS(ctc_loss(lp, tg, len2, tl, {.blank = 3}),
                       doctest::Contains("ctc_loss: blank 3 is out of range for 3 classes"), Error);
  CHECK_THROWS_WITH_AS(ctc_loss(lp, tg, randn({2}), tl),
                       doctest::Contains("ctc_loss: lengths must be int64 [2], got float32[2]"),
                       Error);
}
