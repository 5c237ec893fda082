// CPU optimizer kernels: the fused Adam/AdamW step, one pass over param,
// grad and both moments (an unfused step reads and writes each several times;
// for a model of millions of parameters the step is memory-bound).
#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include <lasergrad/ops/adam_step.h>

#include "cpu_kernels.h"
#include "strided_loop.h"

namespace lg::cpu {
namespace {

// Coefficients are rounded to T once, as a Python number applied to a
// float32 tensor is.
template <typename T>
struct AdamCoefficients {
  explicit AdamCoefficients(const AdamStepArgs& a)
      : beta1(static_cast<T>(a.beta1)),
        one_minus_beta1(static_cast<T>(1.0 - a.beta1)),
        beta2(static_cast<T>(a.beta2)),
        one_minus_beta2(static_cast<T>(1.0 - a.beta2)),
        l2(static_cast<T>(a.weight_decay)),
        // Adam (not decoupled) and AdamW without decay both scale by exactly 1.
        decay(static_cast<T>(a.decoupled ? 1.0 - a.lr * a.weight_decay : 1.0)),
        step_size(static_cast<T>(a.lr / a.bias_correction1)),
        bc2_sqrt(static_cast<T>(std::sqrt(a.bias_correction2))),
        eps(static_cast<T>(a.eps)) {}
  T beta1, one_minus_beta1, beta2, one_minus_beta2, l2, decay, step_size, bc2_sqrt, eps;
};

// The update of one element (X = T) or one vector of lanes (X = a GCC vector
// of T). The arithmetic follows the order of optim::adam_step_reference
// (tensor ops, one rounding per op in T), so that the two agree to the last
// bits where the compiler does not contract into FMAs.
template <bool kL2, typename X, typename T, typename Sqrt>
inline void adam_update(X& p, const X& g, X& m, X& v, const AdamCoefficients<T>& c, Sqrt sqrt) {
  X gi = g;
  if constexpr (kL2) gi = g + p * c.l2;
  const X pi = p * c.decay;
  m = m * c.beta1 + gi * c.one_minus_beta1;
  v = v * c.beta2 + (gi * gi) * c.one_minus_beta2;
  const X denom = sqrt(v) / c.bc2_sqrt + c.eps;
  p = pi - (m / denom) * c.step_size;
}

#if defined(__SSE2__)
// 16-byte GCC vectors and their lane-wise square root.
using vf4 = float __attribute__((vector_size(16)));
using vd2 = double __attribute__((vector_size(16)));
template <typename T>
struct Sse;
template <>
struct Sse<float> {
  using V = vf4;
  static V sqrt(V x) { return reinterpret_cast<V>(_mm_sqrt_ps(reinterpret_cast<__m128>(x))); }
};
template <>
struct Sse<double> {
  using V = vd2;
  static V sqrt(V x) { return reinterpret_cast<V>(_mm_sqrt_pd(reinterpret_cast<__m128d>(x))); }
};
#endif

// One chunk, explicitly vectorised: std::sqrt may set errno, which keeps GCC
// from vectorising a loop calling it unless the whole build had
// -fno-math-errno. SSE2 (every x86-64) square roots are IEEE-exact like the
// scalar one, so the lanes and the scalar tail give the same bits.
template <typename T, bool kL2>
void adam_chunk(T* p, const T* g, T* m, T* v, int64_t n, const AdamCoefficients<T>& c) {
  int64_t i = 0;
#if defined(__SSE2__)
  using V = typename Sse<T>::V;
  constexpr int64_t kLanes = 16 / sizeof(T);
  for (; i + kLanes <= n; i += kLanes) {
    V vp, vg, vm, vv;
    std::memcpy(&vp, p + i, sizeof(V));
    std::memcpy(&vg, g + i, sizeof(V));
    std::memcpy(&vm, m + i, sizeof(V));
    std::memcpy(&vv, v + i, sizeof(V));
    adam_update<kL2>(vp, vg, vm, vv, c, Sse<T>::sqrt);
    std::memcpy(p + i, &vp, sizeof(V));
    std::memcpy(m + i, &vm, sizeof(V));
    std::memcpy(v + i, &vv, sizeof(V));
  }
#endif
  for (; i < n; ++i) adam_update<kL2>(p[i], g[i], m[i], v[i], c, [](T x) { return std::sqrt(x); });
}

template <typename T, bool kL2>
void adam_loop(T* p, const T* g, T* m, T* v, int64_t n, const AdamStepArgs& args) {
  const AdamCoefficients<T> c(args);
  const int threads = n >= kParallelGrain ? omp_get_max_threads() : 1;
  const int64_t chunks = std::min<int64_t>(threads, (n + kParallelGrain - 1) / kParallelGrain);
  parallel_for(0, chunks, 2, [&](int64_t k) {
    // Chunk bounds on multiples of 16 elements keep each chunk's vectors aligned alike.
    const int64_t begin = (n * k / chunks) & ~int64_t{15};
    const int64_t end = k + 1 == chunks ? n : (n * (k + 1) / chunks) & ~int64_t{15};
    adam_chunk<T, kL2>(p + begin, g + begin, m + begin, v + begin, end - begin, c);
  });
}

template <typename T>
void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
               const Tensor& exp_avg_sq, const AdamStepArgs& args) {
  T* p = ptr<T>(param);
  const T* g = ptr<T>(grad);
  T* m = ptr<T>(exp_avg);
  T* v = ptr<T>(exp_avg_sq);
  // PyTorch adds the L2 term only when weight_decay != 0; so do we (0 * inf would be NaN).
  if (!args.decoupled && args.weight_decay != 0.0)
    adam_loop<T, true>(p, g, m, v, param.numel(), args);
  else
    adam_loop<T, false>(p, g, m, v, param.numel(), args);
}

}  // namespace

void fill_optimizer_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) t.adam_step = adam_step<T>;
  });
}

}  // namespace lg::cpu
