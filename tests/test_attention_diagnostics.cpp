// Gradient diagnostics of attention layers (nn::AttentionDiagnostics) against
// finite differences: the Jacobian means against central differences of the
// attention output and the softmax with respect to each score, and the
// gradient norms against central differences of a tiny model's loss.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>
#include <lasergrad/nn/nn.h>

#include <cmath>
#include <functional>
#include <vector>

#include "test_util.h"

using namespace lg;

namespace {

// One attention row as plain doubles: the output for scores s over the
// attended keys (values v[j][c]), and softmax(s).
std::vector<double> softmax_row(const std::vector<double>& s) {
  double top = -INFINITY, z = 0;
  for (double x : s) top = std::max(top, x);
  std::vector<double> a;
  for (double x : s) a.push_back(std::exp(x - top)), z += a.back();
  for (double& p : a) p /= z;
  return a;
}

std::vector<double> output_row(const std::vector<double>& s,
                               const std::vector<std::vector<double>>& v, bool laser) {
  const std::vector<double> a = softmax_row(s);
  std::vector<double> o(v.front().size(), 0.0);
  for (size_t c = 0; c < o.size(); ++c) {
    for (size_t j = 0; j < s.size(); ++j) o[c] += a[j] * (laser ? std::exp(v[j][c]) : v[j][c]);
    if (laser) o[c] = std::log(o[c]);
  }
  return o;
}

// The Jacobian means by central differences of the scores, for batch 0.
nn::AttentionJacobianMeans finite_difference_means(const Tensor& q, const Tensor& k,
                                                   const Tensor& v, const AttentionOptions& o,
                                                   bool laser) {
  const int64_t heads = q.size(1), tq = q.size(2), tk = k.size(2), d = q.size(3);
  const auto qs = q.select(0, 0).contiguous().to_vector<double>();
  const auto ks = k.select(0, 0).contiguous().to_vector<double>();
  const auto vs = v.select(0, 0).contiguous().to_vector<double>();
  std::vector<double> keep;
  if (o.mask.defined())
    keep = o.mask.expand({q.size(0), heads, tq, tk}).select(0, 0).to(kFloat64).contiguous().to_vector<double>();
  const double eps = 1e-6, scale = 1 / std::sqrt(static_cast<double>(d));
  nn::AttentionJacobianMeans sum;
  int64_t rows = 0;
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < tq; ++i) {
      std::vector<double> s;
      std::vector<std::vector<double>> vv;
      for (int64_t j = 0; j < tk; ++j) {
        if (o.causal && j > i + (tk - tq)) continue;
        if (!keep.empty() && keep[static_cast<size_t>((h * tq + i) * tk + j)] == 0) continue;
        double dot = 0;
        for (int64_t c = 0; c < d; ++c) dot += qs[(h * tq + i) * d + c] * ks[(h * tk + j) * d + c];
        s.push_back(dot * scale);
        vv.emplace_back(vs.begin() + (h * tk + j) * d, vs.begin() + (h * tk + j + 1) * d);
      }
      if (s.empty()) continue;
      const auto n = static_cast<double>(s.size());
      double softmax_total = 0, score_total = 0;
      for (size_t kk = 0; kk < s.size(); ++kk) {
        std::vector<double> up = s, down = s;
        up[kk] += eps;
        down[kk] -= eps;
        const auto a_up = softmax_row(up), a_down = softmax_row(down);
        for (size_t j = 0; j < s.size(); ++j) softmax_total += std::fabs(a_up[j] - a_down[j]) / (2 * eps);
        const auto o_up = output_row(up, vv, laser), o_down = output_row(down, vv, laser);
        for (size_t c = 0; c < o_up.size(); ++c) score_total += std::fabs(o_up[c] - o_down[c]) / (2 * eps);
      }
      sum.softmax_jacobian += softmax_total / (n * n);
      sum.score_jacobian += score_total / (n * static_cast<double>(d));
      ++rows;
    }
  sum.softmax_jacobian /= static_cast<double>(rows);
  sum.score_jacobian /= static_cast<double>(rows);
  return sum;
}

// The norm of the central-difference gradient of loss() with respect to the
// entries of `rows` (a view of a parameter, float64), changed in place.
double finite_difference_norm(Tensor rows, const std::function<double()>& loss) {
  NoGradGuard no_grad;
  const double eps = 1e-6;
  double squares = 0;
  const int64_t n = rows.numel();
  for (int64_t e = 0; e < n; ++e) {
    std::vector<double> bump(static_cast<size_t>(n), 0.0);
    bump[static_cast<size_t>(e)] = eps;
    const Tensor delta = from_vector(bump, rows.shape());
    rows.add_(delta);
    const double up = loss();
    rows.sub_(delta);
    rows.sub_(delta);
    const double down = loss();
    rows.add_(delta);
    const double g = (up - down) / (2 * eps);
    squares += g * g;
  }
  return std::sqrt(squares);
}

}  // namespace

TEST_CASE("attention_jacobian_means agrees with finite differences of the scores") {
  manual_seed(11);
  struct Case {
    bool laser, causal, masked;
    int64_t tq, tk;
  };
  for (const Case& c : {Case{false, false, false, 5, 5}, Case{true, false, false, 5, 5},
                        Case{false, true, false, 6, 6}, Case{true, true, false, 6, 6},
                        Case{true, true, false, 3, 7}, Case{false, false, true, 4, 6},
                        Case{true, false, true, 4, 6}}) {
    CAPTURE(c.laser);
    CAPTURE(c.causal);
    CAPTURE(c.masked);
    CAPTURE(c.tq);
    const Tensor q = randn({2, 2, c.tq, 3}, {.dtype = kFloat64}) * 1.5, k = randn({2, 2, c.tk, 3}, {.dtype = kFloat64});
    const Tensor v = randn({2, 2, c.tk, 3}, {.dtype = kFloat64}) * 2;
    AttentionOptions o{.causal = c.causal};
    if (c.masked) {  // key padding: the last two keys of sequence 0 are padding
      std::vector<bool> keep(static_cast<size_t>(2 * c.tk), true);
      keep[static_cast<size_t>(c.tk - 1)] = keep[static_cast<size_t>(c.tk - 2)] = false;
      o.mask = from_vector(keep, {2, 1, 1, c.tk});
    }
    const nn::AttentionJacobianMeans got = nn::attention_jacobian_means(q, k, v, o, c.laser);
    const nn::AttentionJacobianMeans want = finite_difference_means(q, k, v, o, c.laser);
    CHECK(got.softmax_jacobian == doctest::Approx(want.softmax_jacobian).epsilon(1e-7));
    CHECK(got.score_jacobian == doctest::Approx(want.score_jacobian).epsilon(1e-7));
    CHECK(got.softmax_jacobian > 0);
    // float32 inputs give the same means, to float32 rounding of the inputs.
    const nn::AttentionJacobianMeans single = nn::attention_jacobian_means(
        q.to(kFloat32), k.to(kFloat32), v.to(kFloat32), o, c.laser);
    CHECK(single.score_jacobian == doctest::Approx(got.score_jacobian).epsilon(1e-5));
  }
  // One attended key: the softmax is constant, both Jacobians vanish.
  const Tensor q = randn({1, 1, 1, 2}, {.dtype = kFloat64}), k = randn({1, 1, 1, 2}, {.dtype = kFloat64});
  const nn::AttentionJacobianMeans one = nn::attention_jacobian_means(q, k, k, {}, true);
  CHECK(one.softmax_jacobian == 0);
  CHECK(one.score_jacobian == 0);
  CHECK_ERROR(nn::attention_jacobian_means(q, k.view({1, 2}), k, {}, false),
              "attention_jacobian_means", "[B,H,Tq,d]");
}

namespace {
struct TwoBlocks : nn::Module {
  nn::TransformerBlock first, second;
  explicit TwoBlocks(nn::AttentionKind kind)
      : first(8, 2, {.attention = kind, .causal = true}), second(8, 2, {.attention = kind, .causal = true}) {
    register_module("first", first);
    register_module("second", second);
  }
  Tensor forward(const Tensor& x) const { return second(first(x)); }
};
}  // namespace

TEST_CASE("AttentionDiagnostics' gradient norms agree with finite differences on a tiny model") {
  for (nn::AttentionKind kind : {nn::AttentionKind::Softmax, nn::AttentionKind::Laser}) {
    CAPTURE(std::string(nn::attention_kind_name(kind)));
    manual_seed(5);
    TwoBlocks model(kind);
    model.to(kFloat64);
    const Tensor x = randn({2, 4, 8}, {.dtype = kFloat64}), r = randn({2, 4, 8}, {.dtype = kFloat64});
    auto loss = [&] { return (model.forward(x) * r).sum().item<double>(); };
    nn::AttentionDiagnostics diag(model);
    CHECK(diag.names() == std::vector<std::string>{"first.self_attn", "second.self_attn"});
    diag.arm();
    (model.forward(x) * r).sum().backward();
    const std::vector<nn::AttentionGradients> got = diag.collect();
    REQUIRE(got.size() == 2);
    const nn::MultiHeadAttention* layers[] = {&model.first.self_attn, &model.second.self_attn};
    for (size_t l = 0; l < 2; ++l) {
      CAPTURE(l);
      CHECK(got[l].measured);
      const Tensor& w = layers[l]->in_proj_weight;
      CHECK(got[l].w_q == doctest::Approx(finite_difference_norm(w.slice(0, 0, 8), loss)).epsilon(1e-6));
      CHECK(got[l].w_k == doctest::Approx(finite_difference_norm(w.slice(0, 8, 16), loss)).epsilon(1e-6));
      CHECK(got[l].w_v == doctest::Approx(finite_difference_norm(w.slice(0, 16, 24), loss)).epsilon(1e-6));
      CHECK(got[l].input > 0);
    }
    // Unarmed, a step records nothing; an eval forward never does.
    (model.forward(x) * r).sum().backward();
    CHECK_FALSE(diag.collect()[0].measured);
    diag.arm();
    {
      NoGradGuard no_grad;
      model.forward(x);
    }
    CHECK_FALSE(diag.collect()[0].measured);
    CHECK_ERROR(nn::AttentionDiagnostics{model}, "already watched");
  }
}

TEST_CASE("AttentionDiagnostics' input gradient norm agrees with finite differences, with a mask") {
  for (nn::AttentionKind kind : {nn::AttentionKind::Softmax, nn::AttentionKind::Laser}) {
    CAPTURE(std::string(nn::attention_kind_name(kind)));
    manual_seed(9);
    nn::MultiHeadAttention attn(6, 3, {.attention = kind});
    attn.to(kFloat64);
    Tensor x = randn({2, 5, 6}, {.dtype = kFloat64}).requires_grad_(true);
    const Tensor r = randn({2, 5, 6}, {.dtype = kFloat64});
    const Tensor keep = from_vector(std::vector<bool>{true, true, true, false, false, true, true,
                                                      true, true, true},
                                    {2, 1, 1, 5});
    auto loss = [&] { return (attn(x, keep) * r).sum().item<double>(); };
    double input_norm = 0, jacobian = 0;
    {
      nn::AttentionDiagnostics diag(attn);
      diag.arm();
      (attn(x, keep) * r).sum().backward();
      const nn::AttentionGradients g = diag.collect().at(0);
      CHECK(g.name.empty());  // the model itself
      input_norm = g.input;
      jacobian = g.score_jacobian;
      CHECK(g.w_v == doctest::Approx(finite_difference_norm(attn.in_proj_weight.slice(0, 12, 18), loss))
                         .epsilon(1e-6));
    }
    CHECK(input_norm == doctest::Approx(finite_difference_norm(x.detach(), [&] {
                                          return (attn(x.detach(), keep) * r).sum().item<double>();
                                        })).epsilon(1e-6));
    CHECK(input_norm == doctest::Approx(std::sqrt((x.grad() * x.grad()).sum().item<double>())).epsilon(1e-12));
    // The layer's Jacobian means are those of its own q, k, v under the mask.
    NoGradGuard no_grad;
    auto project = [&](int64_t i) {
      return linear(x, attn.in_proj_weight.slice(0, 6 * i, 6 * i + 6),
                    attn.in_proj_bias.slice(0, 6 * i, 6 * i + 6))
          .view({2, 5, 3, 2})
          .permute({0, 2, 1, 3});
    };
    const nn::AttentionJacobianMeans want = nn::attention_jacobian_means(
        project(0), project(1), project(2), {.mask = keep}, kind == nn::AttentionKind::Laser);
    CHECK(jacobian == doctest::Approx(want.score_jacobian).epsilon(1e-12));
    // Gone, the diagnostics leave the layer as it was.
    CHECK_NOTHROW(nn::AttentionDiagnostics{attn});
  }
  nn::Linear no_attention(2, 2);
  CHECK_ERROR(nn::AttentionDiagnostics{no_attention}, "no MultiHeadAttention");
}
