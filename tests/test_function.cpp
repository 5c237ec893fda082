// Custom ops through Function<Derived>: forward/backward, saved tensors and
// values, multiple outputs, double backward, and the checks on what backward returns.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

using namespace lg;

namespace {

struct MySquare : Function<MySquare> {
  static Tensor forward(Context& ctx, const Tensor& x) {
    ctx.save({x});
    return x * x;
  }
  static std::vector<Tensor> backward(Context& ctx, const Tensor& g) {
    return {2.0 * ctx.saved(0) * g};
  }
};

// y = exp(x) * scale, saving its own output and a non-tensor value.
struct ScaledExp : Function<ScaledExp> {
  static Tensor forward(Context& ctx, const Tensor& x, double scale) {
    Tensor y = exp(x) * scale;
    ctx.save({y});
    ctx.saved_data["scale"] = scale;
    return y;
  }
  static std::vector<Tensor> backward(Context& ctx, const Tensor& g) { return {g * ctx.saved(0)}; }
};

// Two outputs: (a + b, a * b).
struct SumAndProduct : Function<SumAndProduct> {
  static std::vector<Tensor> forward(Context& ctx, const Tensor& a, const Tensor& b) {
    ctx.save({a, b});
    return {a + b, a * b};
  }
  static std::vector<Tensor> backward(Context& ctx, std::vector<Tensor> grads) {
    const Tensor &a = ctx.saved(0), &b = ctx.saved(1);
    return {grads[0] + grads[1] * b, ctx.needs_input_grad(1) ? grads[0] + grads[1] * a : Tensor()};
  }
};

struct WrongCount : Function<WrongCount> {
  static Tensor forward(Context&, const Tensor& x) { return x * 2; }
  static std::vector<Tensor> backward(Context&, const Tensor& g) { return {g, g}; }
};

struct WrongShape : Function<WrongShape> {
  static Tensor forward(Context&, const Tensor& x) { return sum(x); }
  static std::vector<Tensor> backward(Context&, const Tensor& g) { return {g.reshape({1})}; }
};

}  // namespace

TEST_CASE("a custom op computes gradients and passes gradcheck") {
  Tensor a = randn({3, 2}, {.dtype = kFloat64, .requires_grad = true});
  Tensor s = MySquare::apply(a);
  CHECK(s.grad_fn() != nullptr);
  sum(s).backward();
  CHECK(a.grad().to_vector<double>() == (2 * a).to_vector<double>());
  auto r = gradcheck([](const std::vector<Tensor>& in) { return MySquare::apply(in[0]); }, {a});
  CHECK_MESSAGE(r.ok, r.message);
  auto rr =
      gradgradcheck([](const std::vector<Tensor>& in) { return MySquare::apply(in[0]); }, {a});
  CHECK_MESSAGE(rr.ok, rr.message);
}

TEST_CASE("a custom op may save its output and plain values") {
  Tensor x = randn({4}, {.dtype = kFloat64, .requires_grad = true});
  auto fn = [](const std::vector<Tensor>& in) { return ScaledExp::apply(in[0], 0.5); };
  auto r = gradcheck(fn, {x});
  CHECK_MESSAGE(r.ok, r.message);
  std::weak_ptr<Node> node;
  {
    Tensor y = ScaledExp::apply(x, 2.0);
    node = y.grad_fn();
  }
  CHECK(node.expired());  // the saved output did not keep its own node alive
}

TEST_CASE("a custom op with two outputs") {
  Tensor a = randn({3}, {.dtype = kFloat64, .requires_grad = true});
  Tensor b = randn({3}, {.dtype = kFloat64, .requires_grad = true});
  auto r = gradcheck(GradcheckMultiFn([](const std::vector<Tensor>& in) {
                       return SumAndProduct::apply(in[0], in[1]);
                     }),
                     {a, b});
  CHECK_MESSAGE(r.ok, r.message);
  // using one output only: the other output's gradient arrives as zeros
  Tensor c = randn({3}, {.dtype = kFloat64});
  sum(SumAndProduct::apply(a, c)[1]).backward();
  CHECK(a.grad().to_vector<double>() == c.to_vector<double>());
}

TEST_CASE("no graph when no input requires grad") {
  Tensor x = randn({3});
  Tensor y = MySquare::apply(x);
  CHECK_FALSE(y.requires_grad());
}

TEST_CASE("backward returning the wrong number or shape of gradients is an error") {
  Tensor x = randn({3}, {.requires_grad = true});
  CHECK_THROWS_WITH_AS(sum(WrongCount::apply(x)).backward(),
                       doctest::Contains("returned 2 gradients, but forward took 1"), Error);
  CHECK_THROWS_WITH_AS(
      WrongShape::apply(x).backward(),
      doctest::Contains("a gradient float32[1] on cpu for its input 0, which is float32[3]"),
      Error);
}
