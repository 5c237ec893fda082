#include "attention.h"

#include <cmath>

#include "../core/autograd.h"
#include "arithmetic.h"
#include "factory.h"
#include "linalg.h"
#include "op_support.h"
#include "reduction.h"
#include "registry.h"
#include "samples.h"
#include "view.h"

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

// Attention probabilities softmax(q kᵀ · scale + mask), 0 for fully masked
// rows; `empty` (if given) is 1 for those rows and 0 elsewhere, shape [B,H,Tq,1].
Tensor attention_probabilities(const Tensor& q, const Tensor& k, const AttentionOptions& o,
                               const Checked& c, Tensor* empty = nullptr) {
  Tensor s = matmul(q, k.transpose(-1, -2)) * c.scale;
  if (o.mask.defined()) s = s + additive_mask(o.mask, q.dtype());
  if (o.causal) s = s + causal_mask(c.Tq, c.Tk, q.dtype(), q.device());
  // Any shift is exact; clamping keeps an all -inf row from becoming NaN.
  Tensor shift = maximum(max(s, -1, true).detach(), full({}, -1e30, {.dtype = q.dtype()}));
  Tensor p = exp(s - shift);
  Tensor l = sum(p, -1, true);
  Tensor no_key = eq(l, 0).to(q.dtype());
  if (empty) *empty = no_key;
  return p / (l + no_key);
}

Tensor reference(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& o,
                 bool laser, const char* op) {
  Checked c = check_attention(q, k, v, o, op);
  Tensor empty;
  Tensor a = attention_probabilities(q, k, o, c, &empty);
  if (!laser) return matmul(a, v);
  Tensor m = max(v.detach(), 2, true);  // the paper's shift: column max over all keys
  // Rows without keys: log(0 + 1) + m, then zeroed, so output and gradient are 0.
  return (log(matmul(a, exp(v - m)) + empty) + m) * (1 - empty);
}

Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                       const AttentionOptions& o, bool laser) {
  const char* op = laser ? "laser_attention" : "scaled_dot_product_attention";
  Checked c = check_attention(q, k, v, o, op);
  AttentionProblem p{q.detach().contiguous(), k.detach().contiguous(), v.detach().contiguous(),
                     Tensor(), o.causal, laser, c.scale};
  if (o.mask.defined())
    p.mask = detail::broadcast_view(additive_mask(o.mask, q.dtype()), {c.B, c.H, c.Tq, c.Tk}, op);
  const DType dt = q.dtype();
  const Device dev = q.device();
  Tensor out = Tensor::empty({c.B, c.H, c.Tq, c.d}, dt, dev);
  Tensor lse = Tensor::empty({c.B, c.H, c.Tq}, dt, dev);
  Tensor row_max = laser ? Tensor::empty({c.B, c.H, c.Tq, c.d}, dt, dev) : Tensor();
  Tensor flags = laser ? Tensor::empty({c.B, c.H, c.Tq}, kBool, dev) : Tensor();
  kernel(&KernelTable::attention_forward, dev, dt, op)(p, out, lse, row_max, flags);

  auto fused = [p, lse, row_max, flags, op](const detail::BackwardArgs& a) {
    const Tensor& o = a.saved(detail::kSavedResult);
    Tensor go = a.grad.detach().contiguous();
    Tensor dq = zeros_like(p.q), dk = zeros_like(p.k), dv = zeros_like(p.v);
    kernel(&KernelTable::attention_backward, o.device(), o.dtype(), op)(p, o.detach(), go, lse,
                                                                       row_max, flags, dq, dk, dv);
    return std::vector<Tensor>{a.needs(0) ? dq : Tensor(), a.needs(1) ? dk : Tensor(),
                               a.needs(2) ? dv : Tensor()};
  };
  // Under create_graph: differentiate the composite formula instead.
  auto composite = [o, laser, op](const detail::BackwardArgs& a) {
    const Tensor* qkv[] = {&a.saved("query"), &a.saved("key"), &a.saved("value")};
    std::vector<Tensor> wrt;
    for (size_t i = 0; i < 3; ++i)
      if (a.needs(i)) wrt.push_back(*qkv[i]);
    Tensor ref = reference(*qkv[0], *qkv[1], *qkv[2], o, laser, op);
    std::vector<Tensor> g = grad({ref}, wrt, {.create_graph = true}, {a.grad});
    std::vector<Tensor> out(3);
    for (size_t i = 0, n = 0; i < 3; ++i)
      if (a.needs(i)) out[i] = g[n++];
    return out;
  };
  return detail::record(op, out, {q, k, v}, {{"query", q}, {"key", k}, {"value", v}}, fused,
                        {.save_output = true, .fused_backward = true, .composite = composite});
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& options) {
  return fused_attention(q, k, v, options, false);
}

Tensor laser_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                       const AttentionOptions& options) {
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

// ---- registry entries ----------------------------------------------------------

void register_attention_ops() {
  using samples::leaf;
  using In = std::vector<Tensor>;
  // Small shapes: Tq != Tk, a bool mask with a fully masked row, an additive
  // mask broadcast over batch and heads, q laid out as [B,T,H,d] (non-contiguous).
  auto make_samples = [] {
    Tensor keep = from_vector(std::vector<bool>{true, true, false, true,  //
                                                false, false, false, false,  //
                                                true, false, true, true},
                              {1, 1, 3, 4});
    Tensor additive = samples::constant({3, 4}, -1, 1);
    Tensor q_bthd = leaf({1, 3, 2, 2}).transpose(1, 2).detach().requires_grad_(true);
    return std::vector<OpSample>{
        {"plain [1,2,3,2] x [1,2,4,2]", {leaf({1, 2, 3, 2}), leaf({1, 2, 4, 2}), leaf({1, 2, 4, 2})}},
        {"bool mask with an empty row", {leaf({1, 1, 3, 2}), leaf({1, 1, 4, 2}), leaf({1, 1, 4, 2}), keep}},
        {"additive mask, q non-contiguous", {q_bthd, leaf({1, 2, 4, 2}), leaf({1, 2, 4, 2}), additive}},
    };
  };
  auto causal_samples = [] {
    return std::vector<OpSample>{
        {"causal, Tq < Tk", {leaf({2, 1, 3, 2}), leaf({2, 1, 4, 2}), leaf({2, 1, 4, 2}, -2, 2)}},
        {"causal, Tq > Tk (first rows see no key)",
         {leaf({1, 2, 4, 2}), leaf({1, 2, 2, 2}), leaf({1, 2, 2, 2})}},
        {"causal with a bool mask",
         {leaf({1, 1, 3, 2}), leaf({1, 1, 3, 2}), leaf({1, 1, 3, 2}),
          from_vector(std::vector<bool>{true, false, true}, {3})}},
    };
  };
  auto call = [](bool laser, bool causal) {
    return [laser, causal](const In& in) {
      AttentionOptions o{.causal = causal, .mask = in.size() > 3 ? in[3] : Tensor()};
      return laser ? laser_attention(in[0], in[1], in[2], o)
                   : scaled_dot_product_attention(in[0], in[1], in[2], o);
    };
  };
  // fused_backward: double backward runs the composite formula.
  register_op({"scaled_dot_product_attention", call(false, false), make_samples, true, true});
  register_op({"scaled_dot_product_attention.causal", call(false, true), causal_samples, true, true});
  register_op({"laser_attention", call(true, false), make_samples, true, true});
  register_op({"laser_attention.causal", call(true, true), causal_samples, true, true});
}

}  // namespace lg
