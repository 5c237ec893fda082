// Incremental decoding: MultiHeadAttention::forward_cached and the
// AttentionCache it fills (include/lasergrad/nn/transformer.h).
#include <lasergrad/core/error.h>
#include <lasergrad/core/grad_mode.h>
#include <lasergrad/nn/transformer.h>
#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/attention.h>
#include <lasergrad/ops/dropout.h>
#include <lasergrad/ops/elementwise_select.h>
#include <lasergrad/ops/factory.h>
#include <lasergrad/ops/reduction.h>

#include <limits>

namespace lg::nn {
namespace {

const char* const kOp = "nn::MultiHeadAttention::forward_cached";

// Below this, exp(v - m) averaged by the attention weights has lost its
// relative precision (or underflowed): the row is recomputed exactly.
double underflow_bound(DType dtype) { return dtype == kFloat64 ? 1e-290 : 1e-30; }

// The buffers at the first use (or after a clear with another batch size).
void prepare(AttentionCache& cache, const Tensor& x, int64_t heads, int64_t d, bool laser,
             Tensor& keys, Tensor& values, Tensor& shifted, Tensor& column_max) {
  const int64_t b = x.size(0);
  const bool fits = keys.defined() && keys.size(0) == b && keys.dtype() == x.dtype() &&
                    keys.device() == x.device() && (!laser || shifted.defined());
  if (fits) return;
  LG_CHECK(cache.length() == 0, kOp, ": input ", x.describe(), " does not match the cache's ",
           keys.describe(), " (same batch size, dtype and device until clear())");
  const TensorOptions options{.dtype = x.dtype(), .device = x.device()};
  keys = empty({b, heads, cache.capacity(), d}, options);
  values = empty({b, heads, cache.capacity(), d}, options);
  if (laser) {
    shifted = empty({b, heads, cache.capacity(), d}, options);
    column_max = full({b, heads, 1, d}, -std::numeric_limits<double>::infinity(), options);
  }
}

}  // namespace

Tensor MultiHeadAttention::forward_cached(const Tensor& x, AttentionCache& cache) const {
  LG_CHECK(options.causal, kOp, ": needs causal attention (options.causal), as generation does");
  LG_CHECK(x.defined() && x.dim() == 3 && x.size(2) == embed_dim && x.size(1) >= 1, kOp,
           ": expected input [B, T >= 1, ", embed_dim, "], got ",
           x.defined() ? x.describe() : std::string("undefined"));
  const int64_t b = x.size(0), tn = x.size(1), d = embed_dim / num_heads;
  const int64_t t0 = cache.length_, t1 = t0 + tn;
  LG_CHECK(t1 <= cache.capacity_, kOp, ": ", tn, " new positions after ", t0,
           " do not fit a cache of capacity ", cache.capacity_);
  const bool laser = options.attention == AttentionKind::Laser;
  NoGradGuard no_grad;
  prepare(cache, x, num_heads, d, laser, cache.keys_, cache.values_, cache.shifted_,
          cache.column_max_);
  const Tensor q = project(x, 0), k = project(x, 1), v = project(x, 2);
  cache.keys_.slice(2, t0, t1).copy_(k);
  cache.values_.slice(2, t0, t1).copy_(v);
  const Tensor keys = cache.keys_.slice(2, 0, t1), values = cache.values_.slice(2, 0, t1);
  const AttentionOptions attn{.causal = true};  // bottom-right aligned: new rows see all before
  Tensor o;
  if (!laser) {
    o = scaled_dot_product_attention(q, keys, values, attn);
  } else {
    // log(softmax(q kᵀ) exp(v)) = m + log(softmax(q kᵀ) exp(v - m)): the cached
    // exp(v - m) are rescaled by exp(m_old - m) where the new values raise m.
    const Tensor m = maximum(cache.column_max_, v.max(2, /*keepdim=*/true));
    if (t0 > 0) cache.shifted_.slice(2, 0, t0).mul_(exp(cache.column_max_ - m));
    cache.column_max_.copy_(m);
    cache.shifted_.slice(2, t0, t1).copy_(exp(v - m));
    const Tensor mean_shifted =
        scaled_dot_product_attention(q, keys, cache.shifted_.slice(2, 0, t1), attn);
    o = log(mean_shifted) + m;
    // Rows whose weight lies on values far below m: the fused kernel's exact form.
    const Tensor lost = le(mean_shifted, underflow_bound(x.dtype()));
    if (lost.to(kFloat32).max().item<double>() > 0)
      o = where(lost, laser_attention(q, keys, values, attn), o);
  }
  cache.length_ = t1;
  o = o.permute({0, 2, 1, 3}).reshape({b, tn, embed_dim});
  return dropout(out_proj(o), options.dropout, is_training());
}

}  // namespace lg::nn
