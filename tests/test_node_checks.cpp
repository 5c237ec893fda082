// What the engine checks of every node: each gradient a backward returns
// matches its input's shape (else an error naming the op and the input),
// and is converted to the input's dtype, for built-in ops and custom
// Functions alike.
#include "ops/op_support.h"

#include "test_util.h"

using namespace lg;

namespace {

// An op that is the identity forward but whose backward returns `wrong`
// (a gradient of the wrong shape or dtype) instead of the incoming gradient.
Tensor identity_with_gradient(const Tensor& x, Tensor wrong) {
  Tensor out;
  {
    NoGradGuard no_grad;
    out = x.detach().clone();
  }
  return detail::record("bad_identity", out, {x}, {}, [wrong](const detail::BackwardArgs&) {
    return std::vector<Tensor>{wrong};
  });
}

struct WrongShapeFunction : Function<WrongShapeFunction> {
  static Tensor forward(Context&, const Tensor& x) { return x.clone(); }
  static std::vector<Tensor> backward(Context&, const Tensor& g) {
    return {ones({4, 2, 3}, {.dtype = g.dtype()})};
  }
};

}  // namespace

TEST_CASE("a built-in node's gradient of a broadcastable wrong shape is an error naming the op") {
  Tensor w = ones({2, 3}, {.requires_grad = true});
  // Behind the non-leaf h, the wrong gradient would be broadcast or summed
  // away by mul's backward instead of reaching a leaf's shape check.
  for (Shape wrong : {Shape{3}, Shape{1, 3}, Shape{4, 2, 3}}) {
    Tensor h = w * 2.0;
    Tensor y = identity_with_gradient(h, ones(wrong)).sum();
    const std::string returned = "float32" + shape_str(wrong);
    CHECK_ERROR(y.backward(), "'bad_identity'", "input 0", returned.c_str(), "float32[2,3]");
  }
}

TEST_CASE("a custom Function's gradient of a broadcastable wrong shape is an error naming it") {
  Tensor w = ones({2, 3}, {.requires_grad = true});
  Tensor y = WrongShapeFunction::apply(w * 2.0).sum();
  CHECK_ERROR(y.backward(), "WrongShapeFunction", "input 0", "[4,2,3]", "[2,3]");
}

TEST_CASE("a gradient of another dtype is converted to the input's dtype, as PyTorch does") {
  Tensor w = ones({3}, {.requires_grad = true});
  Tensor y = identity_with_gradient(w, full({3}, 2.0, {.dtype = kFloat64})).sum();
  y.backward();
  CHECK(w.grad().dtype() == kFloat32);
  CHECK(w.grad().to_vector<double>() == std::vector<double>{2, 2, 2});
}

TEST_CASE("a backward reads its saved tensors by the names given to record") {
  Tensor a = from_vector(std::vector<double>{1, 2}, {2}, {.requires_grad = true});
  Tensor b = from_vector(std::vector<double>{3, 5}, {2}, {.requires_grad = true});
  Tensor out;
  {
    NoGradGuard no_grad;
    out = a.detach() * b.detach();
  }
  out = detail::record(
      "named_mul", out, {a, b}, {{"self", a}, {"other", b}}, [](const detail::BackwardArgs& c) {
        return std::vector<Tensor>{c.grad * c.saved("other"), c.grad * c.saved("self")};
      });
  out.sum().backward();
  CHECK(a.grad().to_vector<double>() == std::vector<double>{3, 5});
  CHECK(b.grad().to_vector<double>() == std::vector<double>{1, 2});
}

TEST_CASE("reading a name that was not saved is an error naming the op and the saved names") {
  Tensor a = ones({2}, {.requires_grad = true});
  Tensor y = detail::record(
      "misnamed", a.detach().clone(), {a}, {{"self", a}},
      [](const detail::BackwardArgs& c) { return std::vector<Tensor>{c.grad * c.saved("other")}; },
      {.save_output = true});
  CHECK_ERROR(y.sum().backward(), "'misnamed'", "'other'", "'self', 'result'");
}

TEST_CASE("saving two tensors under one name is an error") {
  Tensor a = ones({2}, {.requires_grad = true});
  auto backward = [](const detail::BackwardArgs& c) { return std::vector<Tensor>{c.grad}; };
  CHECK_ERROR(
      detail::record("twice", a.detach().clone(), {a}, {{"self", a}, {"self", a}}, backward),
      "twice", "'self'");
}

namespace {
// Records the dtype of the gradient its backward receives.
struct SeesGradDtype : Function<SeesGradDtype> {
  static inline DType seen = kBool;
  static Tensor forward(Context&, const Tensor& x) { return x.clone(); }
  static std::vector<Tensor> backward(Context&, const Tensor& g) {
    seen = g.dtype();
    return {g};
  }
};
}  // namespace

TEST_CASE("a root gradient of another dtype reaches the graph in the output's dtype") {
  Tensor x = ones({3}, {.requires_grad = true});
  Tensor y = SeesGradDtype::apply(x);
  y.backward(ones({3}, {.dtype = kFloat64}));
  CHECK(SeesGradDtype::seen == kFloat32);
  CHECK(x.grad().dtype() == kFloat32);
}
