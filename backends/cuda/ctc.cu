// CUDA CTC loss and its gradient with the recursions and conventions of
// backends/cpu/loss.cpp (ctc_sample): one block per sample runs alpha
// forward and beta backward over the frames in log space, a thread per
// extended label position and a block barrier per frame, in T as the CPU
// does. The gradient is 0 on frames past a sample's input length and on
// samples whose loss is infinite. exp and log1p come from CUDA's math
// library, so the last bits may differ from the CPU's. The ops layer does
// not read CUDA lengths and labels back to validate them: each block checks
// its sample's before using them, and a sample with a bad one gets loss 0 and
// gradient 0, the first reported to the device's error flag (raised at the
// next synchronisation).
#include <cmath>
#include <cstdint>

#include "device_math.cuh"
#include "launch.cuh"

namespace lg::cuda {
namespace {

// log(exp(a) + exp(b)) without overflow; -inf when both are -inf.
template <typename T>
__device__ inline T log_add(T a, T b) {
  if (a < b) {
    const T t = a;
    a = b;
    b = t;
  }
  if (b == -T(INFINITY)) return a;
  return a + log1p_of(exp_of(b - a));
}

// One sample's view of the problem: log_probs frames N*C apart, its labels,
// and the extended sequence l' = (blank, l1, blank, ..., blank) of length L.
template <typename T>
struct CtcSample {
  const T* lp;
  int64_t frame_stride;
  const int64_t* labels;
  int64_t L, blank;
  __device__ T at(int64_t t, int64_t c) const { return lp[t * frame_stride + c]; }
  __device__ int64_t label(int64_t s) const { return s % 2 == 0 ? blank : labels[s / 2]; }
  // Skipping the blank between s-2 and s is allowed only between different labels.
  __device__ bool can_skip(int64_t s) const {
    return s >= 2 && s % 2 == 1 && label(s) != label(s - 2);
  }
};

// What a sample must satisfy: 0 <= input length <= frames, 0 <= target
// length <= width (the padded targets' S), labels in [0, classes) other than
// the blank; and where to report one that does not.
struct CtcCheck {
  int64_t frames, width, classes, blank;
  DeviceError* error;
  int op;

  // Called by every thread of sample n's block alike; thread 0 reports.
  __device__ bool lengths_ok(int64_t n, int64_t T_in, int64_t S) const {
    const bool in_ok = T_in >= 0 && T_in <= frames, target_ok = S >= 0 && S <= width;
    if (threadIdx.x == 0 && !in_ok) report_bad(error, op, kFoundInputLength, T_in, 0, frames, n);
    if (threadIdx.x == 0 && in_ok && !target_ok)
      report_bad(error, op, kFoundTargetLength, S, 0, width, n);
    return in_ok && target_ok;
  }
  // Sample n's S labels, checked by the block's threads together (a block
  // barrier): every thread gets the same answer.
  __device__ bool labels_ok(int64_t n, const int64_t* labels, int64_t S) const {
    bool bad = false;
    for (int64_t s = threadIdx.x; s < S; s += blockDim.x) {
      const int64_t l = labels[s];
      if (l >= 0 && l < classes && l != blank) continue;
      report_bad(error, op, kFoundLabel, l, 0, classes, n);
      bad = true;
    }
    return __syncthreads_or(bad) == 0;
  }
};

// alpha and beta are per-sample scratch [T_max, L_max] (used as [T_in, L]).
template <typename T>
__global__ void ctc_kernel(T* loss, T* grad, T* alpha_all, T* beta_all, const T* log_probs,
                           const int64_t* targets, const int64_t* input_lengths,
                           const int64_t* target_lengths, int64_t N, int64_t scratch_per_sample,
                           CtcCheck check) {
  constexpr T kNegInf = -T(INFINITY);
  const int64_t tid = threadIdx.x, threads = blockDim.x;
  const int64_t C = check.classes, S_max = check.width, blank = check.blank;
  for (int64_t n = blockIdx.x; n < N; n += gridDim.x) {
    const int64_t T_in = input_lengths[n], S = target_lengths[n];
    if (!check.lengths_ok(n, T_in, S) || !check.labels_ok(n, targets + n * S_max, S)) {
      if (tid == 0) loss[n] = 0;  // its gradient stays 0
      continue;
    }
    const CtcSample<T> p{log_probs + n * C, N * C, targets + n * S_max, 2 * S + 1, blank};
    const int64_t L = p.L;
    T* alpha = alpha_all + n * scratch_per_sample;
    T* beta = grad ? beta_all + n * scratch_per_sample : nullptr;
    if (T_in == 0) {
      if (tid == 0) loss[n] = S == 0 ? T(0) : T(INFINITY);
      continue;
    }
    for (int64_t s = tid; s < L; s += threads)
      alpha[s] = s == 0 ? p.at(0, blank) : s == 1 ? p.at(0, p.label(1)) : kNegInf;
    __syncthreads();
    for (int64_t t = 1; t < T_in; ++t) {
      const T* prev = alpha + (t - 1) * L;
      for (int64_t s = tid; s < L; s += threads) {
        T a = prev[s];
        if (s >= 1) a = log_add(a, prev[s - 1]);
        if (p.can_skip(s)) a = log_add(a, prev[s - 2]);
        alpha[t * L + s] = a == kNegInf ? kNegInf : a + p.at(t, p.label(s));
      }
      __syncthreads();
    }
    const int64_t last = (T_in - 1) * L;
    const T log_likelihood =
        L > 1 ? log_add(alpha[last + L - 1], alpha[last + L - 2]) : alpha[last];
    if (tid == 0) loss[n] = -log_likelihood;
    if (!grad || log_likelihood == kNegInf) continue;  // the same for the whole block
    for (int64_t s = tid; s < L; s += threads)
      beta[last + s] = s == L - 1 || s == L - 2 ? p.at(T_in - 1, p.label(s)) : kNegInf;
    __syncthreads();
    for (int64_t t = T_in - 2; t >= 0; --t) {
      const T* next = beta + (t + 1) * L;
      for (int64_t s = tid; s < L; s += threads) {
        T b = next[s];
        if (s + 1 < L) b = log_add(b, next[s + 1]);
        if (s + 2 < L && p.can_skip(s + 2)) b = log_add(b, next[s + 2]);
        beta[t * L + s] = b == kNegInf ? kNegInf : b + p.at(t, p.label(s));
      }
      __syncthreads();
    }
    // Class c's occupancy of frame t, summed over its positions in the CPU's
    // order; alpha and beta both include frame t's own log prob, counted once.
    for (int64_t i = tid; i < T_in * C; i += threads) {
      const int64_t t = i / C, c = i % C;
      T occupancy = kNegInf;
      for (int64_t s = 0; s < L; ++s) {
        if (p.label(s) != c) continue;
        const T v = alpha[t * L + s] + beta[t * L + s];
        if (v != kNegInf) occupancy = log_add(occupancy, v - p.at(t, c));
      }
      grad[t * N * C + n * C + c] = -exp_of(occupancy - log_likelihood);
    }
  }
}

template <typename T>
void ctc_loss(const Tensor& loss, const Tensor& grad, const Tensor& log_probs,
              const Tensor& targets, const Tensor& input_lengths, const Tensor& target_lengths,
              int64_t blank) {
  DeviceScope scope("ctc_loss", {&loss, &log_probs, &targets, &input_lengths, &target_lengths,
                                 grad.defined() ? &grad : &loss});
  LG_CHECK(log_probs.dim() == 3 && targets.dim() == 2,
           "ctc_loss: CUDA kernel expected log_probs [T,N,C] and targets [N,S], got ",
           log_probs.describe(), " and ", targets.describe());
  const int64_t T_max = log_probs.shape()[0], N = log_probs.shape()[1], C = log_probs.shape()[2];
  const int64_t S_max = targets.shape()[1];
  check_operand("ctc_loss", log_probs, log_probs.shape(), dtype_of<T>());
  check_operand("ctc_loss", loss, {N}, dtype_of<T>());
  check_operand("ctc_loss", targets, {N, S_max}, kInt64);
  check_operand("ctc_loss", input_lengths, {N}, kInt64);
  check_operand("ctc_loss", target_lengths, {N}, kInt64);
  for (const Tensor* t : {&loss, &log_probs, &targets, &input_lengths, &target_lengths})
    LG_CHECK(t->is_contiguous(), "ctc_loss: CUDA kernel expected contiguous operands, got ",
             t->describe());
  if (grad.defined()) {
    check_operand("ctc_loss", grad, log_probs.shape(), dtype_of<T>());
    LG_CHECK(grad.is_contiguous(), "ctc_loss: CUDA kernel expected a contiguous grad, got ",
             grad.describe());
    // Frames past a sample's input length, and impossible samples, get no gradient.
    if (grad.numel() > 0)
      check(cudaMemsetAsync(grad.raw_data(), 0, grad.numel() * sizeof(T), scope_stream("ctc_loss")),
            "ctc_loss", "cudaMemsetAsync");
  }
  if (N == 0) return;
  const int64_t per_sample = T_max * (2 * S_max + 1);
  Tensor alpha = Tensor::empty({N, per_sample}, dtype_of<T>(), log_probs.device());
  Tensor beta =
      grad.defined() ? Tensor::empty({N, per_sample}, dtype_of<T>(), log_probs.device()) : Tensor();
  const int blocks = static_cast<int>(std::min<int64_t>(N, kMaxBlocks));
  launch_kernel(ctc_kernel<T>, blocks, kThreads, 0, ptr<T>(loss),
                grad.defined() ? ptr<T>(grad) : nullptr, ptr<T>(alpha),
                grad.defined() ? ptr<T>(beta) : nullptr, ptr<T>(log_probs), ptr<int64_t>(targets),
                ptr<int64_t>(input_lengths), ptr<int64_t>(target_lengths), N, per_sample,
                CtcCheck{T_max, S_max, C, blank, scope.error_flag(), scope.report_id()});
}

}  // namespace

void fill_ctc_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) t.ctc_loss = ctc_loss<T>;
  });
}

}  // namespace lg::cuda
