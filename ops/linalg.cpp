#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/linalg.h>
#include <lasergrad/ops/reduction.h>
#include <lasergrad/ops/view.h>

#include "op_support.h"

namespace lg {
using detail::BackwardArgs;

namespace {

// Views [batch..., r, c] as [B, r, c] without copying when the batch dims
// merge (always true for contiguous or broadcast-expanded batches).
Tensor as_3d(const Tensor& t, int64_t batch) {
  int64_t nb = t.dim() - 2;
  std::vector<int64_t> dims;  // batch dims of size > 1, outer to inner
  for (int64_t i = 0; i < nb; ++i)
    if (t.shape()[i] != 1) dims.push_back(i);
  bool merges = true;
  for (size_t k = 0; k + 1 < dims.size(); ++k)
    merges = merges && t.strides()[dims[k]] == t.strides()[dims[k + 1]] * t.shape()[dims[k + 1]];
  Tensor base = merges ? t : t.contiguous();
  int64_t bstride = dims.empty() ? 0 : base.strides()[dims.back()];
  return make_view(base, {batch, t.shape()[nb], t.shape()[nb + 1]},
                   {bstride, base.strides()[nb], base.strides()[nb + 1]}, base.storage_offset());
}

// a [..., M, K] @ b [..., K, N] with broadcast batch dims; both at least 2-d.
Tensor matmul_nd(const Tensor& a, const Tensor& b) {
  int64_t M = a.shape()[a.dim() - 2], K = a.shape()[a.dim() - 1];
  int64_t K2 = b.shape()[b.dim() - 2], N = b.shape()[b.dim() - 1];
  LG_CHECK(K == K2, "matmul: inner dimensions differ: ", shape_str(a.shape()), " @ ",
           shape_str(b.shape()));
  Shape batch_a(a.shape().begin(), a.shape().end() - 2);
  Shape batch_b(b.shape().begin(), b.shape().end() - 2);
  Shape batch = detail::broadcast_shapes(batch_a, batch_b, "matmul");
  int64_t nbatch = shape_numel(batch);
  DType dtype = detail::result_type(a, b);
  LG_CHECK(is_floating(dtype), "matmul: needs floating-point operands, got ", a.describe(), " @ ",
           b.describe());

  Shape ea = batch, eb = batch, out_shape = batch;
  ea.insert(ea.end(), {M, K});
  eb.insert(eb.end(), {K, N});
  out_shape.insert(out_shape.end(), {M, N});
  Tensor a3 =
      as_3d(detail::broadcast_view(detail::cast_raw(a.detach(), dtype), ea, "matmul"), nbatch);
  Tensor b3 =
      as_3d(detail::broadcast_view(detail::cast_raw(b.detach(), dtype), eb, "matmul"), nbatch);
  Tensor out = Tensor::empty(out_shape, dtype, a.device());
  Tensor o3 = make_view(out, {nbatch, M, N}, {M * N, N, 1}, 0);
  kernel(&KernelTable::matmul, a.device(), dtype, "matmul")(o3, a3, b3);

  Tensor keep_a = b.requires_grad() ? a : Tensor();
  Tensor keep_b = a.requires_grad() ? b : Tensor();
  return detail::record("matmul", out, {a, b}, {{"self", keep_a}, {"other", keep_b}},
                        [ma = detail::meta(a), mb = detail::meta(b)](const BackwardArgs& c) {
                          const Tensor& sa = c.saved("self");
                          const Tensor& sb = c.saved("other");
                          Tensor ga, gb;
                          if (c.needs(0))
                            ga = detail::grad_for(matmul(c.grad, sb.transpose(-1, -2)), ma);
                          if (c.needs(1))
                            gb = detail::grad_for(matmul(sa.transpose(-1, -2), c.grad), mb);
                          return std::vector<Tensor>{ga, gb};
                        });
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  detail::check_defined(a, "matmul");
  detail::check_defined(b, "matmul");
  detail::check_same_device(a, b, "matmul");
  LG_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least 1 dimension, got ",
           a.describe(), " @ ", b.describe());
  if (a.dim() == 1 && b.dim() == 1) {
    LG_CHECK(a.shape()[0] == b.shape()[0],
             "matmul: inner dimensions differ: ", shape_str(a.shape()), " @ ",
             shape_str(b.shape()));
    return matmul_nd(a.unsqueeze(0), b.unsqueeze(1)).reshape({});
  }
  if (a.dim() == 1) return matmul_nd(a.unsqueeze(0), b).squeeze(-2);
  if (b.dim() == 1) return matmul_nd(a, b.unsqueeze(1)).squeeze(-1);
  return matmul_nd(a, b);
}

Tensor Tensor::matmul(const Tensor& other) const { return lg::matmul(*this, other); }

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  detail::check_defined(x, "linear", "input");
  detail::check_defined(weight, "linear", "weight");
  detail::check_same_device(x, weight, "linear");
  const bool has_bias = bias.defined();
  auto operands = [&] {
    return x.describe() + ", weight " + weight.describe() +
           (has_bias ? ", bias " + bias.describe() : std::string());
  };
  LG_CHECK(weight.dim() == 2, "linear: weight must be 2-d [out, in], got input ", operands());
  LG_CHECK(x.dim() >= 1 && x.shape().back() == weight.shape()[1],
           "linear: input's last dimension must equal weight's in-features: input ", operands());
  const int64_t out_features = weight.shape()[0], in_features = weight.shape()[1];
  DType dtype = detail::result_type(x, weight);
  if (has_bias) {
    detail::check_same_device(x, bias, "linear");
    LG_CHECK(bias.dim() == 1 && bias.shape()[0] == out_features,
             "linear: bias must be 1-d [out] with out = weight's rows: input ", operands());
    dtype = promote_types(dtype, bias.dtype());
  }
  LG_CHECK(is_floating(dtype), "linear: needs floating-point operands, got input ", operands());

  const int64_t rows = shape_numel(Shape(x.shape().begin(), x.shape().end() - 1));
  Shape out_shape = x.shape();
  out_shape.back() = out_features;
  Tensor out = Tensor::empty(out_shape, dtype, x.device());
  {
    NoGradGuard no_grad;
    Tensor x2 = detail::cast_raw(x.detach(), dtype).reshape({rows, in_features});
    Tensor w = detail::cast_raw(weight.detach(), dtype);
    Tensor b = has_bias ? detail::cast_raw(bias.detach(), dtype) : Tensor();
    Tensor o2 = out.view({rows, out_features});
    if (auto fused = kernel_table(x.device(), dtype).linear) {
      fused(o2, x2, w, b);
    } else {  // a backend without the fused kernel: matmul, then the bias in place
      kernel(&KernelTable::matmul, x.device(), dtype, "linear")(o2.unsqueeze(0), x2.unsqueeze(0),
                                                                w.t().unsqueeze(0));
      if (has_bias) o2.add_(b);
    }
  }

  Tensor keep_x = weight.requires_grad() ? x : Tensor();
  Tensor keep_w = x.requires_grad() ? weight : Tensor();
  // Differentiable ops on 2-d views: one GEMM per gradient, and double backward for free.
  return detail::record(
      "linear", out, {x, weight, bias}, {{"input", keep_x}, {"weight", keep_w}},
      [mx = detail::meta(x), mw = detail::meta(weight),
       mb = has_bias ? detail::meta(bias) : detail::TensorMeta{}, rows, in_features,
       out_features](const BackwardArgs& c) {
        Tensor g = c.grad.reshape({rows, out_features});
        Tensor gx, gw, gb;
        if (c.needs(0)) gx = detail::grad_for(matmul(g, c.saved("weight")).reshape(mx.shape), mx);
        if (c.needs(1))
          gw = detail::grad_for(matmul(g.t(), c.saved("input").reshape({rows, in_features})), mw);
        if (c.needs(2)) gb = detail::grad_for(sum(g, 0), mb);
        return std::vector<Tensor>{gx, gw, gb};
      });
}

}  // namespace lg
