#include <lasergrad/core/error.h>
#include <lasergrad/core/function.h>
#include <lasergrad/core/grad_mode.h>
#include <lasergrad/nn/attention_diagnostics.h>
#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/reduction.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace lg::nn {

// What a watched layer records between arm() and collect().
struct AttentionProbe {
  bool armed = false;
  bool recorded = false;    // a forward with gradients ran while armed
  double input_squared = 0;  // the sum of squares of the gradient reaching x
  AttentionJacobianMeans jacobian;
};

namespace {

// The identity, whose backward adds the squared norm of the gradient passing
// through to a probe (a tensor hook, as PyTorch's Tensor.register_hook).
struct GradientTap : Function<GradientTap> {
  static Tensor forward(Context& ctx, const Tensor& x, std::shared_ptr<AttentionProbe> probe) {
    ctx.saved_data["probe"] = std::move(probe);
    return x;
  }
  static std::vector<Tensor> backward(Context& ctx, const Tensor& grad) {
    auto probe = std::any_cast<std::shared_ptr<AttentionProbe>>(ctx.saved_data.at("probe"));
    probe->input_squared += (grad * grad).sum().item<double>();
    return {grad};
  }
};

// One head's q [Tq, d], k and v [Tk, d] and its masks as flat float64 rows.
struct Head {
  const double *q, *k, *v;
  const double* additive;  // [Tq, Tk] or null
  const unsigned char* keep;  // [Tq, Tk], 1 where kept, or null
};

constexpr double kMinusInf = -std::numeric_limits<double>::infinity();

// Row i's scores (-inf where not attended); returns how many keys it attends.
int64_t row_scores(const Head& h, int64_t i, int64_t tq, int64_t tk, int64_t d, double scale,
                   bool causal, std::vector<double>& s) {
  int64_t n = 0;
  for (int64_t j = 0; j < tk; ++j) {
    double score = 0;
    for (int64_t c = 0; c < d; ++c) score += h.q[i * d + c] * h.k[j * d + c];
    score = score * scale + (h.additive ? h.additive[i * tk + j] : 0.0);
    const bool attended = (!causal || j <= i + (tk - tq)) && (!h.keep || h.keep[i * tk + j]) &&
                          score > kMinusInf;
    s[static_cast<size_t>(j)] = attended ? score : kMinusInf;
    n += attended ? 1 : 0;
  }
  return n;
}

// p = softmax(x) over the finite entries (0 elsewhere).
void softmax_into(const std::vector<double>& x, std::vector<double>& p) {
  const double top = *std::max_element(x.begin(), x.end());
  double total = 0;
  for (size_t j = 0; j < x.size(); ++j) total += p[j] = x[j] > kMinusInf ? std::exp(x[j] - top) : 0;
  for (double& v : p) v /= total;
}

// Σ_k |∂O_c/∂s_k| for column c of the values (v_jc = v[j * d + c]) of a row
// with scores s and probabilities a: Σ_k |a_k (v_kc - O_c)| for softmax
// attention, Σ_k |w_k - a_k| with w = softmax(s + v_·c) for LASER.
double score_jacobian_sum(const std::vector<double>& s, const std::vector<double>& a,
                          const double* v, int64_t d, int64_t c, bool laser,
                          std::vector<double>& scratch) {
  double sum = 0;
  if (!laser) {
    double o = 0;
    for (size_t j = 0; j < a.size(); ++j) o += a[j] * v[static_cast<int64_t>(j) * d + c];
    for (size_t j = 0; j < a.size(); ++j) sum += std::fabs(a[j] * (v[static_cast<int64_t>(j) * d + c] - o));
    return sum;
  }
  for (size_t j = 0; j < s.size(); ++j) scratch[j] = s[j] + v[static_cast<int64_t>(j) * d + c];
  softmax_into(scratch, scratch);
  for (size_t j = 0; j < s.size(); ++j) sum += std::fabs(scratch[j] - a[j]);
  return sum;
}

// Adds one head's per-row Jacobian means to `sum` and counts the rows with an
// attended key.
void add_head(const Head& h, int64_t tq, int64_t tk, int64_t d, double scale, bool causal,
              bool laser, AttentionJacobianMeans& sum, int64_t& rows) {
  std::vector<double> s(static_cast<size_t>(tk)), a(s.size()), scratch(s.size());
  for (int64_t i = 0; i < tq; ++i) {
    const int64_t n = row_scores(h, i, tq, tk, d, scale, causal, s);
    if (n == 0) continue;
    softmax_into(s, a);
    double squares = 0;
    for (double p : a) squares += p * p;
    // Σ_jk |a_j (δ_jk - a_k)| = 2 (1 - Σ a²), over n² entries.
    sum.softmax_jacobian += 2 * (1 - squares) / static_cast<double>(n * n);
    double score_sum = 0;
    for (int64_t c = 0; c < d; ++c) score_sum += score_jacobian_sum(s, a, h.v, d, c, laser, scratch);
    sum.score_jacobian += score_sum / static_cast<double>(n * d);
    ++rows;
  }
}

std::vector<double> float64_values(const Tensor& t) {
  return t.to(Device::cpu()).to(kFloat64).contiguous().to_vector<double>();
}

}  // namespace

AttentionJacobianMeans attention_jacobian_means(const Tensor& q, const Tensor& k, const Tensor& v,
                                                const AttentionOptions& options, bool laser,
                                                int64_t batch) {
  LG_CHECK(q.defined() && k.defined() && v.defined() && q.dim() == 4 && k.dim() == 4 &&
               v.shape() == k.shape() && q.size(0) == k.size(0) && q.size(1) == k.size(1) &&
               q.size(3) == k.size(3),
           "attention_jacobian_means: expected q [B,H,Tq,d] and k, v [B,H,Tk,d], got ",
           q.defined() ? q.describe() : "undefined", ", ", k.defined() ? k.describe() : "undefined",
           ", ", v.defined() ? v.describe() : "undefined");
  const int64_t heads = q.size(1), tq = q.size(2), tk = k.size(2), d = q.size(3);
  LG_CHECK(batch >= 0 && batch < q.size(0), "attention_jacobian_means: batch ", batch,
           " out of range for ", q.describe());
  const std::vector<double> qs = float64_values(q.select(0, batch)),
                            ks = float64_values(k.select(0, batch)),
                            vs = float64_values(v.select(0, batch));
  std::vector<double> additive;
  std::vector<unsigned char> keep_bytes;
  if (options.mask.defined()) {
    const Tensor m = options.mask.expand({q.size(0), heads, tq, tk}).select(0, batch);
    if (m.dtype() == kBool) {
      for (double x : float64_values(m)) keep_bytes.push_back(x != 0 ? 1 : 0);
    } else {
      additive = float64_values(m);
    }
  }
  const double scale = options.scale.value_or(1.0 / std::sqrt(static_cast<double>(d)));
  AttentionJacobianMeans sum;
  int64_t rows = 0;
  for (int64_t h = 0; h < heads; ++h) {
    const Head head{.q = qs.data() + h * tq * d,
                    .k = ks.data() + h * tk * d,
                    .v = vs.data() + h * tk * d,
                    .additive = additive.empty() ? nullptr : additive.data() + h * tq * tk,
                    .keep = keep_bytes.empty() ? nullptr : keep_bytes.data() + h * tq * tk};
    add_head(head, tq, tk, d, scale, options.causal, laser, sum, rows);
  }
  if (rows > 0) {
    sum.softmax_jacobian /= static_cast<double>(rows);
    sum.score_jacobian /= static_cast<double>(rows);
  }
  return sum;
}

AttentionDiagnostics::AttentionDiagnostics(const Module& model) {
  for (const auto& [name, module] : model.named_modules()) {
    const auto* layer = dynamic_cast<const MultiHeadAttention*>(module);
    if (layer == nullptr) continue;
    LG_CHECK(!layer->probe_, "AttentionDiagnostics: ", name.empty() ? "the model" : name,
             " is already watched by another AttentionDiagnostics");
    layers_.push_back(layer);
    names_.push_back(name);
    probes_.push_back(std::make_shared<AttentionProbe>());
    layer->probe_ = probes_.back();
  }
  LG_CHECK(!layers_.empty(), "AttentionDiagnostics: the model has no MultiHeadAttention layer");
}

AttentionDiagnostics::~AttentionDiagnostics() {
  for (const MultiHeadAttention* layer : layers_) layer->probe_.reset();
}

void AttentionDiagnostics::arm() {
  for (const auto& probe : probes_) {
    *probe = AttentionProbe{};
    probe->armed = true;
  }
}

std::vector<AttentionGradients> AttentionDiagnostics::collect() {
  std::vector<AttentionGradients> out;
  for (size_t i = 0; i < layers_.size(); ++i) {
    AttentionProbe& probe = *probes_[i];
    AttentionGradients g;
    g.name = names_[i];
    g.measured = probe.recorded;
    if (probe.recorded) {
      const Tensor& grad = layers_[i]->in_proj_weight.grad();
      const int64_t c = layers_[i]->embed_dim;
      auto norm = [&](int64_t part) {
        if (!grad.defined()) return 0.0;
        const Tensor rows = grad.slice(0, part * c, (part + 1) * c);
        return std::sqrt((rows * rows).sum().item<double>());
      };
      g.w_q = norm(0);
      g.w_k = norm(1);
      g.w_v = norm(2);
      g.input = std::sqrt(probe.input_squared);
      g.softmax_jacobian = probe.jacobian.softmax_jacobian;
      g.score_jacobian = probe.jacobian.score_jacobian;
    }
    probe = AttentionProbe{};
    out.push_back(std::move(g));
  }
  return out;
}

namespace probing {

Tensor probe_attention_input(const std::shared_ptr<AttentionProbe>& probe, const Tensor& x) {
  if (!probe->armed || probe->recorded || !GradMode::is_enabled() || !x.requires_grad()) return x;
  // The tap shares the probe, so a backward after the diagnostics are gone is harmless.
  return GradientTap::apply(x, probe);
}

void probe_attention_scores(AttentionProbe& probe, const Tensor& q, const Tensor& k,
                            const Tensor& v, const AttentionOptions& options, bool laser) {
  if (!probe.armed || probe.recorded || !GradMode::is_enabled()) return;
  NoGradGuard no_grad;
  probe.jacobian = attention_jacobian_means(q.detach(), k.detach(), v.detach(), options, laser);
  probe.recorded = true;
}

}  // namespace probing

}  // namespace lg::nn
