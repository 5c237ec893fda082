#include <lasergrad/core/autograd.h>
#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/attention.h>
#include <lasergrad/ops/factory.h>
#include <lasergrad/ops/linalg.h>
#include <lasergrad/ops/reduction.h>
#include <lasergrad/ops/view.h>

#include <cmath>

#include "op_support.h"

namespace lg {
namespace {

struct Checked {
  int64_t B, H, Tq, Tk, d;
  double scale;
};

Checked check_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                        const AttentionOptions& o, const char* op) {
  detail::check_defined(q, op, "q");
  detail::check_defined(k, op, "k");
  detail::check_defined(v, op, "v");
  LG_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, op, ": expected q, k, v of shape ",
           "[B,H,T,d], got q ", q.describe(), ", k ", k.describe(), ", v ", v.describe());
  LG_CHECK(is_floating(q.dtype()) && q.dtype() == k.dtype() && q.dtype() == v.dtype(), op,
           ": q, k, v need one floating-point dtype, got ", q.describe(), ", ", k.describe(), ", ",
           v.describe());
  detail::check_same_device(q, k, op);
  detail::check_same_device(q, v, op);
  const Shape &qs = q.shape(), &ks = k.shape(), &vs = v.shape();
  LG_CHECK(qs[0] == ks[0] && qs[0] == vs[0] && qs[1] == ks[1] && qs[1] == vs[1], op,
           ": batch and head dimensions differ: q ", shape_str(qs), ", k ", shape_str(ks), ", v ",
           shape_str(vs));
  LG_CHECK(ks[2] == vs[2], op, ": k and v need the same number of keys, got k ", shape_str(ks),
           " and v ", shape_str(vs));
  LG_CHECK(qs[3] == ks[3] && qs[3] == vs[3], op, ": q, k, v need the same head size d, got q ",
           shape_str(qs), ", k ", shape_str(ks), ", v ", shape_str(vs));
  if (o.mask.defined()) {
    LG_CHECK(!o.mask.requires_grad(), op, ": the mask is a constant and cannot require grad; ",
             "pass mask.detach()");
    LG_CHECK(o.mask.device() == q.device(), op, ": mask on ", o.mask.device().str(),
             " but q on ", q.device().str());
    LG_CHECK(o.mask.dtype() == kBool || is_floating(o.mask.dtype()), op,
             ": mask must be bool (keep) or floating (additive), got ", o.mask.describe());
    detail::broadcast_view(o.mask, {qs[0], qs[1], qs[2], ks[2]}, op);  // throws if not broadcastable
  }
  double scale = o.scale ? *o.scale : 1.0 / std::sqrt(static_cast<double>(qs[3]));
  LG_CHECK(std::isfinite(scale), op, ": scale must be finite, got ", scale);
  return {qs[0], qs[1], qs[2], ks[2], qs[3], scale};
}

// The mask as an additive tensor of `dtype` (0 keep, -inf drop for bool masks).
Tensor additive_mask(const Tensor& mask, DType dtype) {
  if (!mask.defined()) return mask;
  NoGradGuard no_grad;
  return mask.dtype() == kBool ? log(mask.to(dtype)) : mask.to(dtype);
}

// Bottom-right aligned causal mask [Tq, Tk], additive.
Tensor causal_mask(int64_t Tq, int64_t Tk, DType dtype, Device device) {
  NoGradGuard no_grad;
  Tensor rows = arange(Tq).unsqueeze(1) + (Tk - Tq);
  Tensor keep = ge(rows, arange(Tk).unsqueeze(0));
  return log(keep.to(dtype)).to(device);
}

// Scores s = q kᵀ · scale + mask as z = s - max_j s (detached; exact for any
// shift), their row sums l = sum_j exp(z), and `empty`, 1 for rows without an
// attended key (all -inf) and 0 elsewhere, shape [B,H,Tq,1].
struct ShiftedScores {
  Tensor z, l, empty;
};

ShiftedScores shifted_scores(const Tensor& q, const Tensor& k, const AttentionOptions& o,
                             const Checked& c) {
  Tensor s = matmul(q, k.transpose(-1, -2)) * c.scale;
  if (o.mask.defined()) s = s + additive_mask(o.mask, q.dtype());
  if (o.causal) s = s + causal_mask(c.Tq, c.Tk, q.dtype(), q.device());
  // Clamping keeps an all -inf row from becoming NaN.
  Tensor shift = maximum(max(s, -1, true).detach(), full({}, -1e30, {.dtype = q.dtype()}));
  Tensor z = s - shift;
  Tensor l = sum(exp(z), -1, true);
  return {z, l, eq(l, 0).to(q.dtype())};
}

// Attention probabilities softmax(s), 0 for fully masked rows.
Tensor attention_probabilities(const ShiftedScores& s) { return exp(s.z) / (s.l + s.empty); }

// log softmax(s): -inf for masked keys and for every key of a fully masked row.
Tensor attention_log_probabilities(const ShiftedScores& s) { return s.z - log(s.l + s.empty); }

Tensor reference(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o,
                 bool laser, const char* op) {
  Checked c = check_attention(q, k, v, o, op);
  ShiftedScores s = shifted_scores(q, k, o, c);
  Tensor a = attention_probabilities(s);
  if (!laser) return matmul(a, v);
  Tensor m = max(v.detach(), 2, true);  // the paper's shift: column max over all keys
  // Rows without keys: log(0 + 1) + m, then zeroed, so output and gradient are 0.
  return (log(matmul(a, exp(v - m)) + s.empty) + m) * (1 - s.empty);
}

// LASER in log-sum-exp form, O_ic = logsumexp_j (log A_ij + v_jc), each
// (row, column) shifted by its own detached max: the sum inside the log is
// then >= 1, so output, gradient and second derivatives are finite wherever
// the fused kernel's are (the paper's shared column max underflows when a
// row's attended values sit far below it). Costs B·H·Tq·Tk·d memory; it is
// only the create_graph path.
Tensor laser_log_sum_exp(const Tensor& q, const Tensor& k, const Tensor& v,
                         const AttentionOptions& o, const char* op) {
  Checked c = check_attention(q, k, v, o, op);
  ShiftedScores s = shifted_scores(q, k, o, c);
  Tensor x = attention_log_probabilities(s).unsqueeze(-1) + v.unsqueeze(2);  // [B,H,Tq,Tk,d]
  Tensor m = maximum(max(x.detach(), 3, true), full({}, -1e30, {.dtype = q.dtype()}));
  // Rows without keys (every x is -inf): log(0 + 1) + m, then zeroed, as in the
  // fused kernel.
  Tensor empty = s.empty.unsqueeze(-1);  // [B,H,Tq,1,1]
  Tensor out = log(sum(exp(x - m), 3, true) + empty) + m;
  return (out * (1 - empty)).squeeze(3);
}

// An operand as the kernels take it: [B,H,T,d] with unit stride along d and
// rows at least d apart (BLAS leading dims), any batch and head strides, so
// heads split from a [B,T,H*d] projection are read in place.
Tensor kernel_operand(const Tensor& t) {
  const int64_t d = t.shape()[3];
  const bool rows = t.strides()[3] == 1 && t.strides()[2] >= d;
  return rows ? t.detach() : t.detach().contiguous();
}

// A new [B,H,T,d] tensor laid out as `like`: [B,T,H,d] in memory (a permuted
// view) when like's heads are interleaved with its time steps, so that the
// output and the gradients of head-split projections merge back into
// [B,T,H*d] without a copy; contiguous otherwise.
Tensor empty_in_layout_of(const Tensor& like, const Shape& shape) {
  if (like.strides()[1] < like.strides()[2])
    return Tensor::empty({shape[0], shape[2], shape[1], shape[3]}, like.dtype(), like.device())
        .permute({0, 2, 1, 3});
  return Tensor::empty(shape, like.dtype(), like.device());
}

Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                       const AttentionOptions& o, bool laser) {
  const char* op = laser ? "laser_attention" : "scaled_dot_product_attention";
  Checked c = check_attention(q, k, v, o, op);
  AttentionProblem p{kernel_operand(q), kernel_operand(k), kernel_operand(v), Tensor(), o.causal,
                     laser, c.scale};
  if (o.mask.defined())
    p.mask = detail::broadcast_view(additive_mask(o.mask, q.dtype()), {c.B, c.H, c.Tq, c.Tk}, op);
  const DType dt = q.dtype();
  const Device dev = q.device();
  Tensor out = empty_in_layout_of(q, {c.B, c.H, c.Tq, c.d});
  Tensor lse = Tensor::empty({c.B, c.H, c.Tq}, dt, dev);
  Tensor row_max = laser ? Tensor::empty({c.B, c.H, c.Tq, c.d}, dt, dev) : Tensor();
  Tensor flags = laser ? Tensor::empty({c.B, c.H, c.Tq}, kBool, dev) : Tensor();
  kernel(&KernelTable::attention_forward, dev, dt, op)(p, out, lse, row_max, flags);

  auto fused = [p, lse, row_max, flags, op](const detail::BackwardArgs& a) {
    const Tensor& o = a.saved(detail::kSavedResult);
    Tensor go = kernel_operand(a.grad);
    auto zeros_as = [](const Tensor& like) {
      Tensor z = empty_in_layout_of(like, like.shape());
      z.zero_();
      return z;
    };
    Tensor dq = zeros_as(p.q), dk = zeros_as(p.k), dv = zeros_as(p.v);
    kernel(&KernelTable::attention_backward, o.device(), o.dtype(), op)(p, o.detach(), go, lse,
                                                                       row_max, flags, dq, dk, dv);
    return std::vector<Tensor>{a.needs(0) ? dq : Tensor(), a.needs(1) ? dk : Tensor(),
                               a.needs(2) ? dv : Tensor()};
  };
  // Under create_graph: differentiate a composite formula instead.
  auto composite = [o, laser, op](const detail::BackwardArgs& a) {
    return detail::differentiate_composite(a, {"query", "key", "value"}, [&](const std::vector<Tensor>& in) {
      return laser ? laser_log_sum_exp(in[0], in[1], in[2], o, op)
                   : reference(in[0], in[1], in[2], o, false, op);
    });
  };
  return detail::record(op, out, {q, k, v}, {{"query", q}, {"key", k}, {"value", v}}, fused,
                        {.save_output = true, .fused_backward = true, .composite = composite});
}

// Whether q's device has the fused kernels for q's dtype. Where it has not
// (float64 on CUDA, whose table fills float32 only), attention runs the
// composite formulas, differentiated op by op: softmax as reference() does
// and LASER in log-sum-exp form, exact wherever the fused kernel is but with
// B·H·Tq·Tk·d memory. So do head dims above the 256 that CUDA's tiles hold.
bool has_fused_attention(const Tensor& q) {
  constexpr int64_t kCudaMaxHeadDim = 256;  // backends/cuda/attention.cu's largest tile
  if (q.device().is_cuda() && q.dim() > 0 && q.size(-1) > kCudaMaxHeadDim) return false;
  const KernelTable& table = kernel_table(q.device(), q.dtype());
  return table.attention_forward != nullptr && table.attention_backward != nullptr;
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options) {
  if (q.defined() && !has_fused_attention(q))
    return reference(q, k, v, options, false, "scaled_dot_product_attention");
  return fused_attention(q, k, v, options, false);
}

Tensor laser_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                       const AttentionOptions& options) {
  if (q.defined() && !has_fused_attention(q))
    return laser_log_sum_exp(q, k, v, options, "laser_attention");
  return fused_attention(q, k, v, options, true);
}

Tensor scaled_dot_product_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v,
                                              const AttentionOptions& options) {
  return reference(q, k, v, options, false, "scaled_dot_product_attention_reference");
}

Tensor laser_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v,
                                 const AttentionOptions& options) {
  return reference(q, k, v, options, true, "laser_attention_reference");
}

}  // namespace lg
