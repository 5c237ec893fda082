#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/elementwise_select.h>
#include <lasergrad/ops/reduction.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "op_support.h"

namespace lg {
using detail::BackwardArgs;

namespace {

// The dims to reduce, wrapped and sorted. A 0-d tensor accepts dim 0 and -1
// (PyTorch) and has no dim to reduce: its one element is already the result.
std::vector<int64_t> normalize_dims(const Tensor& a, const std::vector<int64_t>& dims,
                                    const char* op) {
  std::vector<int64_t> out;
  for (int64_t d : dims) {
    int64_t w = wrap_dim_of_0d_as_1d(d, a.dim(), op);
    LG_CHECK(std::find(out.begin(), out.end(), w) == out.end(), op, ": dimension ", d,
             " appears more than once for ", a.describe());
    out.push_back(w);
  }
  std::sort(out.begin(), out.end());
  if (a.dim() == 0) out.clear();
  return out;
}

std::vector<int64_t> all_dims(const Tensor& a) {
  std::vector<int64_t> dims(a.dim());
  std::iota(dims.begin(), dims.end(), 0);
  return dims;
}

Shape keepdim_shape(const Shape& shape, const std::vector<int64_t>& dims) {
  Shape out = shape;
  for (int64_t d : dims) out[d] = 1;
  return out;
}

Shape reduced_shape(const Shape& shape, const std::vector<int64_t>& dims, bool keepdim) {
  if (keepdim) return keepdim_shape(shape, dims);
  Shape out;
  for (size_t i = 0; i < shape.size(); ++i)
    if (std::find(dims.begin(), dims.end(), static_cast<int64_t>(i)) == dims.end())
      out.push_back(shape[i]);
  return out;
}

// Runs a reduce kernel; the result has keepdim shape.
Tensor reduce_raw(ReduceOp op, const Tensor& a, const std::vector<int64_t>& dims, DType dtype,
                  const char* name) {
  Tensor in = detail::cast_raw(a, dtype);
  Tensor out = Tensor::empty(keepdim_shape(a.shape(), dims), dtype, a.device());
  kernel(&KernelTable::reduce, a.device(), dtype, name)(op, out, in, dims);
  return out;
}

Tensor sum_impl(const Tensor& a, std::vector<int64_t> dims, bool keepdim) {
  detail::check_defined(a, "sum");
  DType dtype = is_floating(a.dtype()) ? a.dtype() : kInt64;  // PyTorch: integer sums are int64
  Tensor out = reduce_raw(ReduceOp::Sum, a, dims, dtype, "sum");
  Shape final_shape = reduced_shape(a.shape(), dims, keepdim);
  out = make_view(out, final_shape, contiguous_strides(final_shape), 0);
  return detail::record(
      "sum", out, {a}, {}, [in = detail::meta(a), dims, keepdim](const BackwardArgs& c) {
        Tensor g = keepdim ? c.grad : c.grad.reshape(keepdim_shape(in.shape, dims));
        return std::vector<Tensor>{g.expand(in.shape)};
      });
}

// max/min values; the gradient goes to the extremal elements, shared among ties.
Tensor extreme_impl(ReduceOp op, const Tensor& a, std::vector<int64_t> dims, bool keepdim,
                    const char* name) {
  detail::check_defined(a, name);
  LG_CHECK(a.numel() > 0, name, ": cannot reduce an empty tensor ", a.describe(),
           " (the result has no identity)");
  for (int64_t d : dims)
    LG_CHECK(a.shape()[d] > 0, name, ": cannot reduce over empty dimension ", d, " of ",
             a.describe());
  Tensor kept = reduce_raw(op, a, dims, a.dtype(), name);
  Shape final_shape = reduced_shape(a.shape(), dims, keepdim);
  Tensor out = make_view(kept, final_shape, contiguous_strides(final_shape), 0);
  return detail::record(name, out, {a}, {{"self", a}},
                        [dims, keepdim](const BackwardArgs& c) {
                          const Tensor& x = c.saved("self");
                          const Tensor& y = c.saved(detail::kSavedResult);
                          Shape ks = keepdim_shape(x.shape(), dims);
                          Tensor yk = keepdim ? y : y.reshape(ks);
                          Tensor gk = keepdim ? c.grad : c.grad.reshape(ks);
                          Tensor mask = eq(x, yk.detach()).to(x.dtype());
                          Tensor count = sum(mask, dims, /*keepdim=*/true);
                          return std::vector<Tensor>{gk * mask / count};
                        },
                        {.save_output = true});
}

Tensor arg_impl(ReduceOp op, const Tensor& a, int64_t dim, bool keepdim, const char* name) {
  detail::check_defined(a, name);
  int64_t d = wrap_dim_of_0d_as_1d(dim, a.dim(), name);
  LG_CHECK(a.dim() == 0 || a.shape()[d] > 0, name, ": cannot reduce over empty dimension ", dim,
           " of ", a.describe());
  Tensor in = a.dim() == 0 ? a.reshape({1}) : a;
  Tensor out = Tensor::empty(keepdim_shape(in.shape(), {d}), kInt64, a.device());
  kernel(&KernelTable::arg_reduce, a.device(), a.dtype(), name)(op, out, in.detach(), d);
  if (a.dim() == 0) return out.reshape({});
  return keepdim ? out : out.squeeze(d);
}

}  // namespace

Tensor sum(const Tensor& a) { return sum_impl(a, all_dims(a), false); }
Tensor sum(const Tensor& a, int64_t dim, bool keepdim) {
  return sum_impl(a, normalize_dims(a, {dim}, "sum"), keepdim);
}
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  return sum_impl(a, normalize_dims(a, dims, "sum"), keepdim);
}

Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  detail::check_defined(a, "mean");
  LG_CHECK(is_floating(a.dtype()), "mean: needs a floating-point tensor, got ", a.describe(),
           "; convert with .to(kFloat32)");
  std::vector<int64_t> nd = normalize_dims(a, dims, "mean");
  int64_t count = 1;
  for (int64_t d : nd) count *= a.shape()[d];
  return sum_impl(a, nd, keepdim) / static_cast<double>(count);
}
Tensor mean(const Tensor& a) { return mean(a, all_dims(a), false); }
Tensor mean(const Tensor& a, int64_t dim, bool keepdim) {
  return mean(a, std::vector<int64_t>{dim}, keepdim);
}

Tensor max(const Tensor& a) { return extreme_impl(ReduceOp::Max, a, all_dims(a), false, "max"); }
Tensor max(const Tensor& a, int64_t dim, bool keepdim) {
  return extreme_impl(ReduceOp::Max, a, normalize_dims(a, {dim}, "max"), keepdim, "max");
}
Tensor min(const Tensor& a) { return extreme_impl(ReduceOp::Min, a, all_dims(a), false, "min"); }
Tensor min(const Tensor& a, int64_t dim, bool keepdim) {
  return extreme_impl(ReduceOp::Min, a, normalize_dims(a, {dim}, "min"), keepdim, "min");
}

Tensor argmax(const Tensor& a) {
  return arg_impl(ReduceOp::Max, a.reshape({-1}), 0, false, "argmax");
}
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim) {
  return arg_impl(ReduceOp::Max, a, dim, keepdim, "argmax");
}
Tensor argmin(const Tensor& a) {
  return arg_impl(ReduceOp::Min, a.reshape({-1}), 0, false, "argmin");
}
Tensor argmin(const Tensor& a, int64_t dim, bool keepdim) {
  return arg_impl(ReduceOp::Min, a, dim, keepdim, "argmin");
}

Tensor logsumexp(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  detail::check_defined(a, "logsumexp");
  Tensor x = is_floating(a.dtype()) ? a : a.to(kFloat32);
  std::vector<int64_t> nd = normalize_dims(x, dims, "logsumexp");
  // The shift cancels in both value and gradient, so it is a constant. Where
  // the max is not finite (a slice of all -inf, or +inf) x - max would be NaN,
  // so those slices shift by 0.
  Tensor m = reduce_raw(ReduceOp::Max, x.detach(), nd, x.dtype(), "logsumexp");
  Tensor shift = where(lt(abs(m), INFINITY), m, 0);
  Tensor s = sum(exp(x - shift), nd, /*keepdim=*/true);
  // An all -inf slice has s = 0: log(0) goes through where, so its gradient is
  // 0 rather than 0 * inf = NaN.
  Tensor has_mass = gt(s.detach(), 0);
  Tensor out = log(where(has_mass, s, 1)) + where(has_mass, shift, -INFINITY);
  return keepdim ? out : out.reshape(reduced_shape(x.shape(), nd, false));
}
Tensor logsumexp(const Tensor& a, int64_t dim, bool keepdim) {
  return logsumexp(a, std::vector<int64_t>{dim}, keepdim);
}

Tensor var(const Tensor& a, const std::vector<int64_t>& dims, bool unbiased, bool keepdim) {
  detail::check_defined(a, "var");
  LG_CHECK(is_floating(a.dtype()), "var: needs a floating-point tensor, got ", a.describe());
  std::vector<int64_t> nd = normalize_dims(a, dims, "var");
  int64_t count = 1;
  for (int64_t d : nd) count *= a.shape()[d];
  Tensor dev = a - mean(a, nd, /*keepdim=*/true);
  return sum(dev * dev, nd, keepdim) / static_cast<double>(count - (unbiased ? 1 : 0));
}
Tensor var(const Tensor& a) {
  detail::check_defined(a, "var");
  return var(a, all_dims(a), true, false);
}
Tensor var(const Tensor& a, int64_t dim, bool unbiased, bool keepdim) {
  return var(a, std::vector<int64_t>{dim}, unbiased, keepdim);
}

Tensor std(const Tensor& a, const std::vector<int64_t>& dims, bool unbiased, bool keepdim) {
  detail::check_defined(a, "std");
  LG_CHECK(is_floating(a.dtype()), "std: needs a floating-point tensor, got ", a.describe());
  return sqrt(var(a, dims, unbiased, keepdim));
}
Tensor std(const Tensor& a) {
  detail::check_defined(a, "std");
  return std(a, all_dims(a), true, false);
}
Tensor std(const Tensor& a, int64_t dim, bool unbiased, bool keepdim) {
  return std(a, std::vector<int64_t>{dim}, unbiased, keepdim);
}

namespace {
// reverse sums from the end: the adjoint of the forward scan, hence its backward.
Tensor cumsum_impl(const Tensor& a, int64_t dim, bool reverse) {
  detail::check_defined(a, "cumsum");
  int64_t d = wrap_dim_of_0d_as_1d(dim, a.dim(), "cumsum");
  DType dtype = is_floating(a.dtype()) ? a.dtype() : kInt64;
  Tensor base = a.detach();
  Tensor in = detail::cast_raw(base.dim() == 0 ? base.reshape({1}) : base, dtype);
  Tensor out = Tensor::empty(in.shape(), dtype, a.device());
  kernel(&KernelTable::cumsum, a.device(), dtype, "cumsum")(out, in, d, reverse);
  if (a.dim() == 0) out = make_view(out, {}, {}, 0);
  return detail::record(
      "cumsum", out, {a}, {}, [in_ = detail::meta(a), d, reverse](const BackwardArgs& c) {
        return std::vector<Tensor>{detail::grad_for(cumsum_impl(c.grad, d, !reverse), in_)};
      });
}
}  // namespace

Tensor cumsum(const Tensor& a, int64_t dim) { return cumsum_impl(a, dim, false); }

}  // namespace lg
