#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>
using namespace lg;

TEST_CASE("smoke") {
  Tensor a = randn({4, 8}, {.dtype = kFloat64, .requires_grad = true});
  Tensor y = mean(matmul(a, a.transpose(0, 1)) * 2.0);
  y.backward();
  CHECK(a.grad().shape() == Shape{4, 8});
}
