// gradcheck itself: it must fail on a wrong backward and say where.
#include <doctest/doctest.h>

#include "test_util.h"

using namespace lg;

namespace {

// Correct forward, backward off by a factor for element 2 only.
struct BrokenSquare : Function<BrokenSquare> {
  static Tensor forward(Context& ctx, const Tensor& x) {
    ctx.save({x});
    return x * x;
  }
  static std::vector<Tensor> backward(Context& ctx, const Tensor& g) {
    Tensor scale = ones_like(ctx.saved(0));
    {
      NoGradGuard no_grad;
      scale.select(0, 2).fill_(1.5);
    }
    return {2.0 * ctx.saved(0) * g * scale};
  }
};

// First derivative right, second derivative wrong (backward not differentiable
// in x: it detaches the saved input).
struct DetachedBackward : Function<DetachedBackward> {
  static Tensor forward(Context& ctx, const Tensor& x) {
    ctx.save({x});
    return x * x * x;
  }
  static std::vector<Tensor> backward(Context& ctx, const Tensor& g) {
    return {3.0 * ctx.saved(0).detach() * ctx.saved(0).detach() * g};
  }
};

// A fused-style op whose create_graph backward (the one double backward
// differentiates) is differentiable but twice the plain one.
struct WrongUnderCreateGraph : Function<WrongUnderCreateGraph> {
  static Tensor forward(Context& ctx, const Tensor& x) {
    ctx.save({x});
    return x * x * x;
  }
  static std::vector<Tensor> backward(Context& ctx, const Tensor& g) {
    const double factor = GradMode::is_enabled() ? 6.0 : 3.0;
    return {factor * ctx.saved(0) * ctx.saved(0) * g};
  }
};

}  // namespace

TEST_CASE("gradcheck passes a correct op and reports its worst element") {
  Tensor a = randn({3, 4}, {.dtype = kFloat64, .requires_grad = true});
  Tensor b = randn({4, 2}, {.dtype = kFloat64, .requires_grad = true});
  auto r = gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, b});
  CHECK_MESSAGE(r.ok, r.message);
  CHECK(r.max_abs_error < 1e-6);
  CHECK(r.worst_input >= 0);
  CHECK(r.message.find("ok") == 0);
}

TEST_CASE("gradcheck catches a wrong backward and names input, element and values") {
  Tensor x = from_vector(std::vector<double>{0.5, -1.0, 2.0, 3.0}, {4}, {.dtype = kFloat64});
  x.requires_grad_();
  auto r = gradcheck([](const std::vector<Tensor>& in) { return BrokenSquare::apply(in[0]); }, {x});
  CHECK_FALSE(r.ok);
  CHECK(r.worst_input == 0);
  CHECK(r.worst_index == 2);
  CHECK(r.numeric == doctest::Approx(4.0).epsilon(1e-6));
  CHECK(r.analytic == doctest::Approx(6.0));
  CHECK(r.message.find("input 0 element 2") != std::string::npos);
}

TEST_CASE("gradcheck checks only inputs that require grad, and honours tolerances") {
  Tensor x = randn({3}, {.dtype = kFloat64, .requires_grad = true});
  Tensor c = randn({3}, {.dtype = kFloat64});
  auto r = gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[1]; }, {x, c});
  CHECK(r.ok);
  CHECK(r.worst_input == 0);
  // a large eps makes the finite differences of a cubic visibly wrong
  auto cubic = [](const std::vector<Tensor>& in) { return in[0] * in[0] * in[0]; };
  CHECK_FALSE(gradcheck(cubic, {x}, {.eps = 0.1, .atol = 1e-8, .rtol = 1e-8}).ok);
  CHECK(gradcheck(cubic, {x}, {.eps = 0.1, .atol = 0.1, .rtol = 0.1}).ok);
}

TEST_CASE("gradgradcheck catches a backward that is not differentiable") {
  Tensor x = randn({3}, {.dtype = kFloat64, .requires_grad = true});
  auto fn = [](const std::vector<Tensor>& in) { return DetachedBackward::apply(in[0]); };
  CHECK(gradcheck(fn, {x}).ok);
  CHECK_FALSE(gradgradcheck(fn, {x}).ok);
  auto good = [](const std::vector<Tensor>& in) { return in[0] * in[0] * in[0]; };
  auto r = gradgradcheck(good, {x});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("gradgradcheck catches a create_graph backward that differs from the plain one") {
  Tensor x = randn({3}, {.dtype = kFloat64, .requires_grad = true});
  auto fn = [](const std::vector<Tensor>& in) { return WrongUnderCreateGraph::apply(in[0]); };
  CHECK(gradcheck(fn, {x}).ok);
  GradcheckResult r = gradgradcheck(fn, {x});
  CHECK_FALSE(r.ok);
  CHECK(r.worst_input == 0);
  CHECK(r.message.find("under create_graph differs from the plain backward at input 0") !=
        std::string::npos);
}

TEST_CASE("gradcheck and gradgradcheck reject bad tolerances and eps, naming option and value") {
  Tensor x = randn({3}, {.dtype = kFloat64, .requires_grad = true});
  auto fn = [](const std::vector<Tensor>& in) { return in[0] * in[0]; };
  CHECK_ERROR(gradcheck(fn, {x}, {.eps = 0}), "gradcheck: option eps", "got 0");
  CHECK_ERROR(gradcheck(fn, {x}, {.eps = -1e-6}), "option eps", "-1e-06");
  CHECK_ERROR(gradcheck(fn, {x}, {.eps = NAN}), "option eps", "nan");
  CHECK_ERROR(gradcheck(fn, {x}, {.atol = -1, .rtol = -1}), "option atol", "-1");
  CHECK_ERROR(gradcheck(fn, {x}, {.rtol = -1}), "option rtol", "-1");
  CHECK_ERROR(gradcheck(fn, {x}, {.atol = INFINITY}), "option atol", "inf");
  CHECK_ERROR(gradgradcheck(fn, {x}, {.eps = 0}), "gradgradcheck: option eps", "got 0");
  CHECK_ERROR(gradgradcheck(fn, {x}, {.rtol = NAN}), "gradgradcheck: option rtol", "nan");
  CHECK(gradcheck(fn, {x}, {.atol = 0, .rtol = 1e-3}).ok);  // zero atol is a valid choice
}

TEST_CASE("a gradient that is NaN everywhere fails with a message naming an element") {
  Tensor x = from_vector(std::vector<double>{-1.0, -2.0}, {2}, {.dtype = kFloat64});
  x.requires_grad_();
  auto fn = [](const std::vector<Tensor>& in) { return sqrt(in[0]); };  // NaN for x < 0
  GradcheckResult r = gradcheck(fn, {x});
  CHECK_FALSE(r.ok);
  INFO(r.message);
  CHECK(r.message.find("gradcheck failed at input 0 element ") == 0);
  CHECK(r.message.find("nan") != std::string::npos);
}
