// Attention under create_graph: the composite backward that double backward
// differentiates must give the fused backward's first-order gradient (also
// when one tensor is passed as q, k and v), stay finite where the fused one
// is, and gradgradcheck must notice when it does not.
#include "test_util.h"

using namespace lg;

namespace {

using AttentionFn = Tensor (*)(const Tensor&, const Tensor&, const Tensor&,
                               const AttentionOptions&);

struct Variant {
  const char* name;
  AttentionFn fn;
  bool causal;
};

const Variant kVariants[] = {{"softmax", scaled_dot_product_attention, false},
                             {"softmax causal", scaled_dot_product_attention, true},
                             {"laser", laser_attention, false},
                             {"laser causal", laser_attention, true}};

// Self-attention with a shared input: f(x) = attention(x, x, x).
GradcheckFn self_attention(const Variant& v) {
  return [v](const std::vector<Tensor>& in) {
    return v.fn(in[0], in[0], in[0], {.causal = v.causal});
  };
}

// d <out, w> / d x, through the fused backward or (create_graph) the composite one.
Tensor first_order(const Variant& v, const Tensor& x, const Tensor& w, bool create_graph) {
  Tensor out = v.fn(x, x, x, {.causal = v.causal});
  return grad({out}, {x}, {.create_graph = create_graph}, {w})[0].detach();
}

}  // namespace

TEST_CASE("self-attention (x as q, k and v): create_graph gives the fused first-order gradient") {
  manual_seed(61);
  for (const Variant& v : kVariants) {
    std::string name = v.name;
    CAPTURE(name);
    Tensor x = randn({1, 2, 5, 3}, {.dtype = kFloat64, .requires_grad = true});
    Tensor w = randn({1, 2, 5, 3}, {.dtype = kFloat64});
    check_close(first_order(v, x, w, true), first_order(v, x, w, false), 1e-12);
  }
}

TEST_CASE("self-attention (x as q, k and v) passes gradcheck and gradgradcheck") {
  manual_seed(62);
  for (const Variant& v : kVariants) {
    std::string name = v.name;
    CAPTURE(name);
    Tensor x = randn({1, 1, 4, 2}, {.dtype = kFloat64, .requires_grad = true});
    GradcheckResult first = gradcheck(self_attention(v), {x});
    CHECK_MESSAGE(first.ok, first.message);
    GradcheckResult second = gradgradcheck(self_attention(v), {x});
    CHECK_MESSAGE(second.ok, second.message);
  }
}

TEST_CASE("q and k aliased, v distinct: each slot gets its own gradient under create_graph") {
  manual_seed(63);
  for (AttentionFn fn : {scaled_dot_product_attention, laser_attention}) {
    Tensor x = randn({1, 1, 4, 3}, {.dtype = kFloat64, .requires_grad = true});
    Tensor v = randn({1, 1, 4, 3}, {.dtype = kFloat64, .requires_grad = true});
    Tensor w = randn({1, 1, 4, 3}, {.dtype = kFloat64});
    auto grads = [&](bool create_graph) {
      std::vector<Tensor> g = grad({fn(x, x, v, {})}, {x, v}, {.create_graph = create_graph}, {w});
      return std::vector<Tensor>{g[0].detach(), g[1].detach()};
    };
    std::vector<Tensor> composite = grads(true), fused = grads(false);
    check_close(composite[0], fused[0], 1e-12);
    check_close(composite[1], fused[1], 1e-12);
  }
}

TEST_CASE("LASER's double backward is finite where the paper's formula underflows") {
  manual_seed(64);
  // Causal, a large value in the last key: every earlier row sits far below the
  // global column max (more than float64's ~745 exponent range here).
  Tensor q = randn({1, 1, 6, 2}, {.dtype = kFloat64, .requires_grad = true});
  Tensor k = randn({1, 1, 6, 2}, {.dtype = kFloat64, .requires_grad = true});
  Tensor v = randn({1, 1, 6, 2}, {.dtype = kFloat64});
  {
    NoGradGuard no_grad;
    v.select(2, 5).fill_(1000.0);
  }
  v.requires_grad_();
  Tensor w = randn({1, 1, 6, 2}, {.dtype = kFloat64});
  auto first = [&](bool create_graph) {
    Tensor out = laser_attention(q, k, v, {.causal = true});
    return grad({out}, {q, k, v}, {.create_graph = create_graph}, {w});
  };
  std::vector<Tensor> fused = first(false), composite = first(true);
  for (size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    REQUIRE(fused[i].all_finite());
    check_close(composite[i].detach(), fused[i], 1e-10);
  }
  Tensor penalty = sum(composite[0] * composite[0]) + sum(composite[1] * composite[2]);
  std::vector<Tensor> second = grad({penalty}, {q, k, v});
  for (size_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(second[i].all_finite());
  }
  auto fn = [](const std::vector<Tensor>& in) {
    return laser_attention(in[0], in[1], in[2], {.causal = true});
  };
  GradcheckResult r = gradgradcheck(fn, {q, k, v});
  CHECK_MESSAGE(r.ok, r.message);
}
