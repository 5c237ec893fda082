// The README's example, built by tests/install against the installed package
// (run_consumer.cmake checks that the README shows exactly this code).
#include <lasergrad/lasergrad.h>

#include <cmath>
#include <iostream>

using namespace lg;

int main() {
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2});
  Tensor w = full({2, 1}, 0.5, {.dtype = kFloat64, .requires_grad = true});
  Tensor y = exp(matmul(x, w)).sum();  // y = e^(x0·w) + e^(x1·w)
  y.backward();
  std::cout << "y = " << y.item<double>() << "\ndy/dw =\n" << w.grad() << "\n";

  // By hand: dy/dw = xᵀ e^(x·w) = [1·e^1.5 + 3·e^3.5, 2·e^1.5 + 4·e^3.5].
  std::vector<double> g = w.grad().to_vector<double>();
  double e1 = std::exp(1.5), e2 = std::exp(3.5);
  bool matches = std::abs(g[0] - (e1 + 3 * e2)) < 1e-9 && std::abs(g[1] - (2 * e1 + 4 * e2)) < 1e-9;

  // The same gradient by finite differences, for any function of tensors.
  GradcheckResult r = gradcheck(
      [](const std::vector<Tensor>& in) { return exp(matmul(in[0], in[1])).sum(); }, {x, w});
  std::cout << "by hand: " << (matches ? "match" : "MISMATCH")
            << ", gradcheck: " << (r.ok ? "passed" : r.message) << "\n";
  return matches && r.ok ? 0 : 1;
}
