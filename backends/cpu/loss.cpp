// CPU loss kernels: cross entropy on class indices (forward keeps one
// logsumexp per row; backward recomputes softmax from it, so no [N,C]
// log-prob tensor is ever stored), the class pick behind nll_loss, and CTC's
// log-space forward-backward.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cpu_kernels.h"
#include "softmax_math.h"
#include "strided_loop.h"

namespace lg::cpu {
namespace {

template <typename T>
void cross_entropy(const Tensor& loss, const Tensor& lse, const Tensor& logits,
                   const Tensor& target, int64_t ignore_index, double label_smoothing) {
  const int64_t N = logits.shape()[0], C = logits.shape()[1];
  const T* x = ptr<T>(logits);
  const int64_t* t = ptr<int64_t>(target);
  T* l = ptr<T>(loss);
  T* z = ptr<T>(lse);
  const T eps = static_cast<T>(label_smoothing);
  parallel_for(0, N, grain_for(C), [&](int64_t r) {
    const T* row = x + r * C;
    T m = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : m)
    for (int64_t c = 0; c < C; ++c) m = std::max(m, row[c]);
    // A row of only -inf logits has no finite logsumexp: shift by 0 instead.
    const T shift = std::isinf(m) && m < 0 ? T(0) : m;
    z[r] = shift + std::log(sum_exp_shifted(row, C, shift));
    if (t[r] == ignore_index) {
      l[r] = 0;
      return;
    }
    // -log p[t] = lse - x[t]; smoothing adds eps * mean over classes of -log p.
    T nll = z[r] - row[t[r]];
    if (eps == 0) {
      l[r] = nll;
      return;
    }
    T total = 0;
#pragma omp simd reduction(+ : total)
    for (int64_t c = 0; c < C; ++c) total += row[c];
    l[r] = (1 - eps) * nll + eps * (z[r] - total / static_cast<T>(C));
  });
}

template <typename T>
void cross_entropy_backward(const Tensor& grad_logits, const Tensor& row_grad, const Tensor& logits,
                            const Tensor& target, const Tensor& lse, int64_t ignore_index,
                            double label_smoothing) {
  const int64_t N = logits.shape()[0], C = logits.shape()[1];
  const T* x = ptr<T>(logits);
  const int64_t* t = ptr<int64_t>(target);
  const T* w = ptr<T>(row_grad);
  const T* z = ptr<T>(lse);
  T* dx = ptr<T>(grad_logits);
  const T floor = static_cast<T>(label_smoothing) / static_cast<T>(C);
  parallel_for(0, N, grain_for(C), [&](int64_t r) {
    T* d = dx + r * C;
    if (t[r] == ignore_index) {
      std::fill(d, d + C, T(0));
      return;
    }
    const T* row = x + r * C;
    const T wr = w[r], zr = z[r];
    exp_shifted(d, row, C, zr);
#pragma omp simd
    for (int64_t c = 0; c < C; ++c) d[c] = (d[c] - floor) * wr;
    d[t[r]] -= (1 - static_cast<T>(label_smoothing)) * wr;
  });
}

template <typename T>
void pick_class(const Tensor& out, const Tensor& in, const Tensor& target, int64_t ignore_index) {
  const int64_t N = in.shape()[0], C = in.shape()[1];
  const T* x = ptr<T>(in);
  const int64_t* t = ptr<int64_t>(target);
  T* o = ptr<T>(out);
  for (int64_t r = 0; r < N; ++r) o[r] = t[r] == ignore_index ? T(0) : x[r * C + t[r]];
}

template <typename T>
void pick_class_backward(const Tensor& out, const Tensor& src, const Tensor& target,
                         int64_t ignore_index) {
  const int64_t N = out.shape()[0], C = out.shape()[1];
  const T* s = ptr<T>(src);
  const int64_t* t = ptr<int64_t>(target);
  T* o = ptr<T>(out);
  std::fill(o, o + N * C, T(0));
  for (int64_t r = 0; r < N; ++r)
    if (t[r] != ignore_index) o[r * C + t[r]] = s[r];
}

// log(exp(a) + exp(b)) without overflow; -inf when both are -inf.
template <typename T>
T log_add(T a, T b) {
  if (a < b) std::swap(a, b);
  if (b == -std::numeric_limits<T>::infinity()) return a;
  return a + std::log1p(std::exp(b - a));
}

// One sample of CTC over the extended label sequence l' = (blank, l1, blank,
// l2, ..., blank) of length L = 2S + 1. alpha[t][s] is the log probability of
// all paths through frame t ending at l'[s]; beta[t][s] of those from l'[s] at
// frame t to the end (including frame t). The loss is -log(alpha[T-1][L-1] +
// alpha[T-1][L-2]); the gradient d loss / d log_probs[t][c] is
// -exp(logsumexp_{s: l'[s] = c} (alpha[t][s] + beta[t][s]) - log_likelihood)
// (the posterior occupancy of class c at frame t, with the minus sign of the
// negative log likelihood: log_probs enter as log, so no division by p).
// One worker's buffers for ctc_sample, reused across its samples.
template <typename T>
struct CtcScratch {
  std::vector<T> alpha, beta, occupancy;
};

template <typename T>
void ctc_sample(T* loss, T* grad, const T* lp, int64_t T_in, int64_t lp_stride, int64_t C,
                const int64_t* labels, int64_t S, int64_t blank, CtcScratch<T>& scratch) {
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  const int64_t L = 2 * S + 1;
  auto label = [&](int64_t s) { return s % 2 == 0 ? blank : labels[s / 2]; };
  // Skipping the blank between s-2 and s is allowed only between different labels.
  auto can_skip = [&](int64_t s) { return s >= 2 && s % 2 == 1 && label(s) != label(s - 2); };
  auto at = [&](int64_t t, int64_t c) { return lp[t * lp_stride + c]; };
  std::vector<T>& alpha = scratch.alpha;
  std::vector<T>& beta = scratch.beta;
  alpha.assign(T_in * L, kNegInf);
  beta.assign(T_in * L, kNegInf);
  if (T_in == 0) {
    *loss = S == 0 ? T(0) : std::numeric_limits<T>::infinity();
    return;
  }
  alpha[0] = at(0, blank);
  if (L > 1) alpha[1] = at(0, label(1));
  for (int64_t t = 1; t < T_in; ++t)
    for (int64_t s = 0; s < L; ++s) {
      T a = alpha[(t - 1) * L + s];
      if (s >= 1) a = log_add(a, alpha[(t - 1) * L + s - 1]);
      if (can_skip(s)) a = log_add(a, alpha[(t - 1) * L + s - 2]);
      alpha[t * L + s] = a == kNegInf ? kNegInf : a + at(t, label(s));
    }
  const int64_t last = (T_in - 1) * L;
  T log_likelihood = L > 1 ? log_add(alpha[last + L - 1], alpha[last + L - 2]) : alpha[last];
  *loss = -log_likelihood;
  if (!grad || log_likelihood == kNegInf) return;
  beta[last + L - 1] = at(T_in - 1, label(L - 1));
  if (L > 1) beta[last + L - 2] = at(T_in - 1, label(L - 2));
  for (int64_t t = T_in - 2; t >= 0; --t)
    for (int64_t s = 0; s < L; ++s) {
      T b = beta[(t + 1) * L + s];
      if (s + 1 < L) b = log_add(b, beta[(t + 1) * L + s + 1]);
      if (s + 2 < L && can_skip(s + 2)) b = log_add(b, beta[(t + 1) * L + s + 2]);
      beta[t * L + s] = b == kNegInf ? kNegInf : b + at(t, label(s));
    }
  // alpha and beta both include frame t's own log prob, counted once here.
  std::vector<T>& occupancy = scratch.occupancy;
  occupancy.resize(C);
  for (int64_t t = 0; t < T_in; ++t) {
    std::fill(occupancy.begin(), occupancy.end(), kNegInf);
    for (int64_t s = 0; s < L; ++s) {
      T v = alpha[t * L + s] + beta[t * L + s];
      if (v != kNegInf) occupancy[label(s)] = log_add(occupancy[label(s)], v - at(t, label(s)));
    }
    for (int64_t c = 0; c < C; ++c)
      grad[t * lp_stride + c] = -std::exp(occupancy[c] - log_likelihood);
  }
}

template <typename T>
void ctc_loss(const Tensor& loss, const Tensor& grad, const Tensor& log_probs,
              const Tensor& targets, const Tensor& input_lengths, const Tensor& target_lengths,
              int64_t blank) {
  const int64_t N = log_probs.shape()[1], C = log_probs.shape()[2];
  const int64_t S_max = targets.shape()[1];
  const T* lp = ptr<T>(log_probs);
  const int64_t* tg = ptr<int64_t>(targets);
  const int64_t* in_len = ptr<int64_t>(input_lengths);
  const int64_t* tg_len = ptr<int64_t>(target_lengths);
  T* l = ptr<T>(loss);
  T* g = grad.defined() ? ptr<T>(grad) : nullptr;
  // Frames past a sample's input length get no gradient.
  if (g) std::fill(g, g + grad.numel(), T(0));
  const int threads = team_size(N, grain_when(log_probs.numel() >= kParallelGrain));
  parallel_region(threads, [&](Worker& worker) {
    CtcScratch<T> scratch;  // sized per sample, inside the loop
    worker.for_each(0, N, Schedule::Dynamic, [&](int64_t n) {
      ctc_sample(l + n, g ? g + n * C : nullptr, lp + n * C, in_len[n], N * C, C, tg + n * S_max,
                 tg_len[n], blank, scratch);
    });
  });
}

}  // namespace

void fill_loss_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      t.cross_entropy = cross_entropy<T>;
      t.cross_entropy_backward = cross_entropy_backward<T>;
      t.pick_class = pick_class<T>;
      t.pick_class_backward = pick_class_backward<T>;
      t.ctc_loss = ctc_loss<T>;
    }
  });
}

}  // namespace lg::cpu
