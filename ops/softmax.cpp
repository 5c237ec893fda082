#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/factory.h>
#include <lasergrad/ops/reduction.h>
#include <lasergrad/ops/softmax.h>

#include "op_support.h"

namespace lg {
using detail::BackwardArgs;

namespace {

// The gradient in differentiable ops, from the saved output y: what runs
// under create_graph, and the reference the fused kernel is tested against.
Tensor softmax_grad_composite(const Tensor& g, const Tensor& y, int64_t dim, bool log) {
  if (!log) return y * (g - sum(g * y, dim, /*keepdim=*/true));
  // Rows of only -inf inputs have y = 0 everywhere, so sum(exp(y)) = n there
  // and 1 on every other row: the mask zeroes their gradient (n = 1 rows get 0
  // from the formula itself).
  Tensor live;
  {
    NoGradGuard constant_mask;
    live = lt(sum(exp(y.detach()), dim, /*keepdim=*/true), 1.5).to(y.dtype());
  }
  return (g - exp(y) * sum(g, dim, /*keepdim=*/true)) * live;
}

Tensor softmax_impl(const Tensor& x, int64_t dim, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  detail::check_defined(x, name);
  LG_CHECK(is_floating(x.dtype()), name, ": needs a floating-point tensor, got ", x.describe(),
           "; convert with .to(kFloat32)");
  int64_t d = wrap_dim_of_0d_as_1d(dim, x.dim(), name);
  if (x.dim() == 0) return softmax_impl(x.reshape({1}), 0, log).reshape({});
  auto forward = kernel(&KernelTable::softmax, x.device(), x.dtype(), name);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.numel() > 0) forward(out, x.detach().contiguous(), d, log);
  return detail::record(
      name, out, {x}, {},
      [d, log, name](const BackwardArgs& c) {
        const Tensor& y = c.saved(detail::kSavedResult);
        Tensor g = detail::cast_raw(c.grad.detach(), y.dtype()).contiguous();
        Tensor dx = Tensor::empty(y.shape(), y.dtype(), y.device());
        if (y.numel() > 0)
          kernel(&KernelTable::softmax_backward, y.device(), y.dtype(), name)(dx, g, y.detach(), d,
                                                                              log);
        return std::vector<Tensor>{dx};
      },
      {.save_output = true, .fused_backward = true, .composite = [d, log](const BackwardArgs& c) {
         return std::vector<Tensor>{
             softmax_grad_composite(c.grad, c.saved(detail::kSavedResult), d, log)};
       }});
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, true); }

}  // namespace lg
