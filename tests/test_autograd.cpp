// The autograd engine: backward, accumulation, grad mode, detach, functional
// grad, double backward, graph freeing, version counters, anomaly mode and
// the absence of reference cycles.
#include <doctest/doctest.h>

#include <cmath>
#include <lasergrad/lasergrad.h>

using namespace lg;

namespace {
std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }
}  // namespace

TEST_CASE("backward computes gradients of a small expression") {
  Tensor x = from_vector(std::vector<double>{1, 2, 3}, {3}, {.dtype = kFloat64, .requires_grad = true});
  Tensor y = sum(x * x * 3.0 + exp(x));  // dy/dx = 6x + exp(x)
  y.backward();
  std::vector<double> g = values(x.grad());
  for (int i = 0; i < 3; ++i) CHECK(g[i] == doctest::Approx(6.0 * (i + 1) + std::exp(i + 1.0)));
}

TEST_CASE("gradients accumulate across backward calls until zero_grad") {
  Tensor x = ones({2}, {.requires_grad = true});
  (x * 2).sum().backward();
  (x * 3).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{5, 5});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  (x * 4).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{4, 4});
}

TEST_CASE("a gradient shared by two leaves is not aliased") {
  Tensor a = ones({3}, {.requires_grad = true});
  Tensor b = ones({3}, {.requires_grad = true});
  sum(a + b).backward();
  {
    NoGradGuard no_grad;
    a.grad().mul_(10);  // as clip_grad_norm does
  }
  CHECK(values(b.grad()) == std::vector<double>{1, 1, 1});
}

TEST_CASE("backward with an explicit gradient for a non-scalar output") {
  Tensor x = ones({2, 2}, {.requires_grad = true});
  Tensor y = x * 3;
  y.backward(from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2}));
  CHECK(values(x.grad()) == std::vector<double>{3, 6, 9, 12});
}

TEST_CASE("NoGradGuard, detach and requires_grad_") {
  Tensor x = ones({2}, {.requires_grad = true});
  {
    NoGradGuard guard;
    Tensor y = x * 2;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
  }
  CHECK((x * 2).requires_grad());
  Tensor d = (x * 2).detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  Tensor z = zeros({2});
  CHECK_FALSE((z * 2).requires_grad());
  z.requires_grad_();
  CHECK((z * 2).requires_grad());
  z.requires_grad_(false);
  CHECK_FALSE((z * 2).requires_grad());
}

TEST_CASE("functional grad leaves .grad untouched and returns undefined for unused inputs") {
  Tensor a = randn({3}, {.dtype = kFloat64, .requires_grad = true});
  Tensor b = randn({3}, {.dtype = kFloat64, .requires_grad = true});
  Tensor unused = randn({2}, {.dtype = kFloat64, .requires_grad = true});
  Tensor loss = sum(a * b);
  auto grads = grad({loss}, {a, b, unused});
  REQUIRE(grads.size() == 3);
  CHECK(values(grads[0]) == values(b));
  CHECK(values(grads[1]) == values(a));
  CHECK_FALSE(grads[2].defined());
  CHECK_FALSE(a.grad().defined());
  // w.r.t. an intermediate (non-leaf) tensor
  Tensor h = a * 2;
  Tensor out = sum(h * h);
  auto gh = grad({out}, {h});
  CHECK(values(gh[0]) == values(4 * a));
}

TEST_CASE("create_graph gives double backward") {
  Tensor x = from_vector(std::vector<double>{0.5, 2.0}, {2}, {.dtype = kFloat64, .requires_grad = true});
  Tensor y = sum(x * x * x);                               // dy/dx = 3x^2
  auto g = grad({y}, {x}, {.create_graph = true});          // 3x^2, differentiable
  CHECK(g[0].requires_grad());
  Tensor g2 = grad({sum(g[0])}, {x})[0];                    // d/dx sum(3x^2) = 6x
  CHECK(values(g2) == std::vector<double>{3.0, 12.0});
  // through an op that saves its own output (exp), via backward(create_graph)
  Tensor z = from_vector(std::vector<double>{0.3}, {1}, {.dtype = kFloat64, .requires_grad = true});
  Tensor e = sum(exp(z * 2));  // de/dz = 2 exp(2z); d2e/dz2 = 4 exp(2z)
  e.backward({}, false, true);
  Tensor gz = z.grad();
  z.zero_grad();
  sum(gz).backward();
  CHECK(z.grad().item<double>() == doctest::Approx(4 * std::exp(0.6)));
}

TEST_CASE("retain_graph allows a second backward") {
  Tensor x = ones({2}, {.requires_grad = true});
  Tensor y = sum(exp(x));
  y.backward({}, /*retain_graph=*/true);
  y.backward();
  CHECK(values(x.grad())[0] == doctest::Approx(2 * std::exp(1.0)));
}

TEST_CASE("a node that saves its own output keeps no reference cycle") {
  std::weak_ptr<Node> node;
  {
    Tensor x = randn({4}, {.requires_grad = true});
    Tensor y = exp(x);  // saves y
    node = y.grad_fn();
    CHECK_FALSE(node.expired());
  }
  CHECK(node.expired());
}

TEST_CASE("memory stays flat over many training steps") {
  Tensor w = randn({64, 64}, {.requires_grad = true});
  Tensor x = randn({32, 64});
  auto step = [&] {
    Tensor loss = mean(exp(matmul(x, w) * 0.01) * sqrt(abs(w).sum() + 1));
    loss.backward();
    NoGradGuard no_grad;
    w.add_(w.grad(), -1e-3);
    w.zero_grad();
  };
  for (int i = 0; i < 5; ++i) step();
  size_t settled = memory_allocated();
  for (int i = 0; i < 200; ++i) step();
  CHECK(memory_allocated() == settled);
}

TEST_CASE("anomaly mode names the op that produced a NaN gradient") {
  Tensor x = zeros({3}, {.requires_grad = true});
  detect_anomaly(true);
  Tensor y = sum(sqrt(x));  // d sqrt(x)/dx at 0 = inf
  try {
    y.backward();
    FAIL("expected lg::Error");
  } catch (const Error& e) {
    std::string msg = e.what();
    CHECK(msg.find("detect_anomaly") != std::string::npos);
    CHECK(msg.find("sqrt") != std::string::npos);
    CHECK(msg.find("float32[3]") != std::string::npos);
  }
  detect_anomaly(false);
  Tensor x2 = zeros({3}, {.requires_grad = true});
  sum(sqrt(x2)).backward();  // without anomaly mode: inf gradient, no error
  CHECK_FALSE(x2.grad().all_finite());
}

TEST_CASE("gradients flow through views into their base") {
  Tensor base = zeros({3, 4}, {.dtype = kFloat64, .requires_grad = true});
  Tensor y = sum(base.t().slice(0, 1, 4, 2) * 2) + sum(base.select(0, 2));
  y.backward();
  // columns 1 and 3 get 2, row 2 gets +1
  std::vector<double> expected = {0, 2, 0, 2, 0, 2, 0, 2, 1, 3, 1, 3};
  CHECK(values(base.grad()) == expected);
}

TEST_CASE("the engine runs a node only after all its consumers") {
  Tensor x = full({1}, 2.0, {.dtype = kFloat64, .requires_grad = true});
  Tensor a = x * x;      // used twice below
  Tensor b = a * 3 + a;  // 4x^2
  Tensor c = b * a;      // 4x^4 -> 16x^3 = 128
  sum(c).backward();
  CHECK(x.grad().item<double>() == doctest::Approx(128));
}

TEST_CASE("a very long graph is freed without deep recursion") {
  Tensor x = ones({1}, {.requires_grad = true});
  {
    Tensor y = x;
    for (int i = 0; i < 200000; ++i) y = y * 1.0;
    std::weak_ptr<Node> head = y.grad_fn();
    y = Tensor();
    CHECK(head.expired());
  }
  Tensor z = x;
  for (int i = 0; i < 20000; ++i) z = z + 1.0;
  sum(z).backward();
  CHECK(x.grad().item<double>() == 1.0);
}
