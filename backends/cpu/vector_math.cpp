#include "vector_math.h"

#include <cfloat>
#include <cstring>
#include <utility>

#include "../../core/philox.h"
#include "cpu_isa.h"

// The vector helpers below are always inlined into each ISA variant of the
// functions at the end, so their by-value vector ABI never crosses a call
// (CMakeLists.txt builds this file with -Wno-psabi).

// LG_ISA_VARIANTS(result, name, (params), (args)): name_body<W> (always
// inlined) compiled three times, for AVX-512, AVX2 and baseline x86-64, each
// on vectors of W floats, the width of that ISA's registers (16, 8, 4: a
// wider vector is split by the compiler, and its selects then fall apart into
// scalar code), and `result name(params)` calling the one active_isa() picks
// (cpu_isa.h), so that a test or LG_CPU_ISA can run any path the CPU
// supports. The switch costs one relaxed load per call.
#if LG_HAVE_ISA_VARIANTS
#define LG_ISA_VARIANTS(result, name, params, args)                               \
  namespace {                                                                     \
  LG_TARGET_AVX512 result name##_avx512 params { return name##_body<16> args; } \
  LG_TARGET_AVX2 result name##_avx2 params { return name##_body<8> args; }      \
  result name##_baseline params { return name##_body<4> args; }                 \
  }                                                                               \
  result name params {                                                            \
    switch (active_isa()) {                                                       \
      case Isa::Avx512:                                                           \
        return name##_avx512 args;                                                \
      case Isa::Avx2:                                                             \
        return name##_avx2 args;                                                  \
      case Isa::Baseline:                                                         \
        break;                                                                    \
    }                                                                             \
    return name##_baseline args;                                                  \
  }
#else
#define LG_ISA_VARIANTS(result, name, params, args) \
  result name params { return name##_body<4> args; }
#endif

namespace lg::cpu {
namespace {

// Vectors of W floats and of W int32s (GCC vector extensions); a comparison
// of two float vectors gives the int one (lanes -1 where true, else 0).
template <int W>
struct Lanes {
  typedef float F __attribute__((vector_size(4 * W)));
  typedef int32_t I __attribute__((vector_size(4 * W)));
};
template <class VF>
using IntLanes = decltype(VF{} < VF{});

template <class VF>
[[gnu::always_inline]] inline VF splat(float v) {
  return VF{} + v;
}

// exp_float on a vector: the compiler does not if-convert the scalar
// version's selects, so the vector form spells them out.
template <class VF>
[[gnu::always_inline]] inline VF exp_v(VF x) {
  using VI = IntLanes<VF>;
  VF c = x < -104.0f ? splat<VF>(-104.0f) : x;
  c = c > 88.8f ? splat<VF>(88.8f) : c;
  const VF t = c * 1.44269504088896341f;
  const VI ni = __builtin_convertvector(t + (t < 0.0f ? splat<VF>(-0.5f) : splat<VF>(0.5f)), VI);
  const VF n = __builtin_convertvector(ni, VF);
  VF r = c - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  VF p = splat<VF>(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const VI half = ni >> 1;
  const VF s1 = reinterpret_cast<VF>((half + 127) << 23);
  const VF s2 = reinterpret_cast<VF>((ni - half + 127) << 23);
  VF y = p * s1 * s2;
  y = x < -104.0f ? splat<VF>(0.0f) : y;
  y = x > 88.8f ? splat<VF>(INFINITY) : y;
  return x != x ? x : y;
}

// log on a vector of normal, finite, positive floats (the caller checks):
// x = m 2^e with m in [sqrt(1/2), sqrt(2)), log m by the Cephes logf polynomial.
template <class VF>
[[gnu::always_inline]] inline VF log_v(VF x) {
  using VI = IntLanes<VF>;
  const VI bits = reinterpret_cast<VI>(x);
  VI e = ((bits >> 23) & 0xff) - 126;
  VF m = reinterpret_cast<VF>((bits & 0x807fffff) | 0x3f000000);  // in [0.5, 1)
  const VI small = m < 0.707106781186547524f;
  e = e + small;  // small is -1 (all bits) where true
  m = (small ? m + m : m) - 1.0f;
  const VF z = m * m;
  VF y = splat<VF>(7.0376836292e-2f);
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  const VF ef = __builtin_convertvector(e, VF);
  y = y + ef * -2.12194440e-4f;
  y = y - 0.5f * z;
  return m + y + ef * 0.693359375f;
}

// erf on a vector: the rational approximation x P(x²) / Q(x²) on [-4, 4] of
// XLA and Eigen (under 2e-7 absolute error in float), exactly ±1 from |x| =
// 3.9 on (as float erf is) so that 1 + erf(x) is exactly 0 there, never
// negative. NaN stays NaN.
template <class VF>
[[gnu::always_inline]] inline VF erf_v(VF x) {
  VF c = x < -4.0f ? splat<VF>(-4.0f) : x;
  c = c > 4.0f ? splat<VF>(4.0f) : c;
  const VF z = c * c;
  VF p = splat<VF>(-2.72614225801306e-10f);
  p = p * z + 2.77068142495902e-08f;
  p = p * z - 2.10102402082508e-06f;
  p = p * z - 5.69250639462346e-05f;
  p = p * z - 7.34990630326855e-04f;
  p = p * z - 2.95459980854025e-03f;
  p = p * z - 1.60960333262415e-02f;
  VF q = splat<VF>(-1.45660718464996e-05f);
  q = q * z - 2.13374055278905e-04f;
  q = q * z - 1.68282697438203e-03f;
  q = q * z - 7.37332916720468e-03f;
  q = q * z - 1.42647390514189e-02f;
  VF r = c * p / q;
  r = c >= 3.9f ? splat<VF>(1.0f) : r;
  return c <= -3.9f ? splat<VF>(-1.0f) : r;
}

// tanh as 1 - 2 / (e^2u + 1): exact limits ±1, about 1e-7 absolute error.
template <class VF>
[[gnu::always_inline]] inline VF tanh_v(VF u) {
  return 1.0f - 2.0f / (exp_v(u + u) + 1.0f);
}

constexpr float kSqrtHalf = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
constexpr float kSqrt2OverPi = 0.79788456080286535588f;
constexpr float kGeluCubic = 0.044715f;

// gelu and its derivative on a vector, exact (erf) or tanh form.
template <class VF>
[[gnu::always_inline]] inline VF gelu_v(VF x, bool tanh_form) {
  if (tanh_form) return 0.5f * x * (1.0f + tanh_v(kSqrt2OverPi * (x + kGeluCubic * x * x * x)));
  return 0.5f * x * (1.0f + erf_v(x * kSqrtHalf));
}

template <class VF>
[[gnu::always_inline]] inline VF gelu_grad_v(VF x, bool tanh_form) {
  if (tanh_form) {
    const VF t = tanh_v(kSqrt2OverPi * (x + kGeluCubic * x * x * x));
    const VF inner = kSqrt2OverPi * (1.0f + 3.0f * kGeluCubic * x * x);
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * inner;
  }
  return 0.5f * (1.0f + erf_v(x * kSqrtHalf)) + x * exp_v(-0.5f * x * x) * kInvSqrt2Pi;
}

// 1 / (1 + e^-x): e^-x overflowing to inf gives 0, never NaN.
template <class VF>
[[gnu::always_inline]] inline VF sigmoid_v(VF x) {
  return 1.0f / (1.0f + exp_v(-x));
}

// The activations below as function objects on vectors, for the loops of
// map_float_body and map_grad_float_body.
struct GeluFn {
  bool tanh_form;
  template <class VF>
  [[gnu::always_inline]] VF value(VF x) const {
    return gelu_v(x, tanh_form);
  }
  template <class VF>
  [[gnu::always_inline]] VF grad(VF x) const {
    return gelu_grad_v(x, tanh_form);
  }
};

struct SigmoidFn {
  template <class VF>
  [[gnu::always_inline]] VF value(VF x) const {
    return sigmoid_v(x);
  }
};

// silu(x) = x sigmoid(x), written x / (1 + e^-x) as the scalar kernel; its
// derivative s (1 + x (1 - s)).
struct SiluFn {
  template <class VF>
  [[gnu::always_inline]] VF value(VF x) const {
    return x / (1.0f + exp_v(-x));
  }
  template <class VF>
  [[gnu::always_inline]] VF grad(VF x) const {
    const VF s = sigmoid_v(x);
    return s * (1.0f + x * (1.0f - s));
  }
};

// Loads n < W floats (zeros after them) and stores the first n lanes back:
// the tails of the loops below.
template <class VF>
[[gnu::always_inline]] inline VF load_partial(const float* p, int64_t n) {
  VF v = splat<VF>(0.0f);
  std::memcpy(&v, p, static_cast<size_t>(n) * sizeof(float));
  return v;
}
template <class VF>
[[gnu::always_inline]] inline void store_partial(float* p, VF v, int64_t n) {
  std::memcpy(p, &v, static_cast<size_t>(n) * sizeof(float));
}

// out[i] = fn.value(x[i]).
template <int W, class Fn>
[[gnu::always_inline]] inline void map_float_body(float* out, const float* x, int64_t n, Fn fn) {
  using VF = typename Lanes<W>::F;
  int64_t i = 0;
  for (; i + W <= n; i += W) {  // fixed-size copies: plain vector loads and stores
    VF v;
    std::memcpy(&v, x + i, sizeof v);
    v = fn.value(v);
    std::memcpy(out + i, &v, sizeof v);
  }
  if (i < n) store_partial(out + i, fn.value(load_partial<VF>(x + i, n - i)), n - i);
}

// grad_in[i] = grad_out[i] * fn.grad(x[i]).
template <int W, class Fn>
[[gnu::always_inline]] inline void map_grad_float_body(float* grad_in, const float* grad_out,
                                                       const float* x, int64_t n, Fn fn) {
  using VF = typename Lanes<W>::F;
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    VF g, v;
    std::memcpy(&g, grad_out + i, sizeof g);
    std::memcpy(&v, x + i, sizeof v);
    g = g * fn.grad(v);
    std::memcpy(grad_in + i, &g, sizeof g);
  }
  if (i < n) {
    const int64_t m = n - i;
    const VF g = load_partial<VF>(grad_out + i, m);
    store_partial(grad_in + i, g * fn.grad(load_partial<VF>(x + i, m)), m);
  }
}

template <int W>
[[gnu::always_inline]] inline void gelu_float_body(float* out, const float* x, int64_t n,
                                                   bool tanh_form) {
  map_float_body<W>(out, x, n, GeluFn{tanh_form});
}

template <int W>
[[gnu::always_inline]] inline void gelu_backward_float_body(float* grad_in, const float* grad_out,
                                                            const float* x, int64_t n,
                                                            bool tanh_form) {
  map_grad_float_body<W>(grad_in, grad_out, x, n, GeluFn{tanh_form});
}

template <int W>
[[gnu::always_inline]] inline void sigmoid_float_body(float* out, const float* x, int64_t n) {
  map_float_body<W>(out, x, n, SigmoidFn{});
}

template <int W>
[[gnu::always_inline]] inline void silu_float_body(float* out, const float* x, int64_t n) {
  map_float_body<W>(out, x, n, SiluFn{});
}

template <int W>
[[gnu::always_inline]] inline void silu_backward_float_body(float* grad_in, const float* grad_out,
                                                            const float* x, int64_t n) {
  map_grad_float_body<W>(grad_in, grad_out, x, n, SiluFn{});
}

template <int W>
[[gnu::always_inline]] inline void log_inplace_float_body(float* x, int64_t n) {
  using VF = typename Lanes<W>::F;
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    VF v;
    std::memcpy(&v, x + i, sizeof v);
    // Zero, negative, denormal, inf or NaN lanes take the exact scalar path.
    // On the raw bits, as a loop the compiler vectorises (a lane-by-lane test
    // of a vector compare's result costs more than log_v itself): a normal
    // positive float's bits lie in [0x00800000, 0x7f7fffff].
    uint32_t bits[W];
    std::memcpy(bits, x + i, sizeof bits);
    uint32_t any_bad = 0;
    for (uint32_t b : bits) any_bad |= static_cast<uint32_t>(b - 0x00800000u) >= 0x7f000000u;
    if (!any_bad) {
      v = log_v(v);
      std::memcpy(x + i, &v, sizeof v);
    } else {
      for (int k = 0; k < W; ++k) x[i + k] = std::log(x[i + k]);
    }
  }
  for (; i < n; ++i) x[i] = std::log(x[i]);
}

template <int W>
[[gnu::always_inline]] inline void exp_inplace_float_body(float* x, int64_t n) {
  using VF = typename Lanes<W>::F;
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    VF v;
    std::memcpy(&v, x + i, sizeof v);
    v = exp_v(v);
    std::memcpy(x + i, &v, sizeof v);
  }
  for (; i < n; ++i) x[i] = exp_float(x[i]);
}

// The lanes of v combined by op, pairwise: the same order on every call.
template <class VF, class Op>
[[gnu::always_inline]] inline float combine_lanes(VF v, Op op) {
  constexpr int w = sizeof(VF) / sizeof(float);
  float lane[w];
  std::memcpy(lane, &v, sizeof v);
  for (int width = w / 2; width >= 1; width /= 2)
    for (int k = 0; k < width; ++k) lane[k] = op(lane[k], lane[k + width]);
  return lane[0];
}

template <int W>
[[gnu::always_inline]] inline float exp_shifted_sum_float_body(float* x, int64_t n, float shift) {
  using VF = typename Lanes<W>::F;
  VF sum = splat<VF>(0.0f);
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    VF v;
    std::memcpy(&v, x + i, sizeof v);
    v = exp_v(v - shift);
    std::memcpy(x + i, &v, sizeof v);
    sum += v;
  }
  float total = combine_lanes(sum, [](float a, float b) { return a + b; });
  for (; i < n; ++i) total += x[i] = exp_float(x[i] - shift);
  return total;
}

// max as `b > a ? b : a`, lane by lane: a NaN is passed over, as by the
// scalar loops' std::max(a, b) with a the running max.
template <int W>
[[gnu::always_inline]] inline float max_float_body(const float* x, int64_t n) {
  using VF = typename Lanes<W>::F;
  VF m = splat<VF>(-INFINITY);
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    VF v;
    std::memcpy(&v, x + i, sizeof v);
    m = v > m ? v : m;
  }
  float best = combine_lanes(m, [](float a, float b) { return b > a ? b : a; });
  for (; i < n; ++i) best = x[i] > best ? x[i] : best;
  return best;
}

template <int W>
[[gnu::always_inline]] inline void exp_difference_float_body(float* out, const float* a,
                                                             const float* b, int64_t n) {
  using VF = typename Lanes<W>::F;
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    VF u, v;
    std::memcpy(&u, a + i, sizeof u);
    std::memcpy(&v, b + i, sizeof v);
    u = exp_v(u - v);
    std::memcpy(out + i, &u, sizeof u);
  }
  for (; i < n; ++i) out[i] = exp_float(a[i] - b[i]);
}

template <int W>
[[gnu::always_inline]] inline void softmax_grad_row_float_body(float* dp, const float* p,
                                                               int64_t n, float d) {
  using VF = typename Lanes<W>::F;
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    VF g, q;
    std::memcpy(&g, dp + i, sizeof g);
    std::memcpy(&q, p + i, sizeof q);
    g = q * (g - d);
    std::memcpy(dp + i, &g, sizeof g);
  }
  for (; i < n; ++i) dp[i] = p[i] * (dp[i] - d);
}

template <int W>
[[gnu::always_inline]] inline void multiply_add_float_body(float* acc, const float* a,
                                                           const float* b, int64_t n) {
  using VF = typename Lanes<W>::F;
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    VF s, u, v;
    std::memcpy(&s, acc + i, sizeof s);
    std::memcpy(&u, a + i, sizeof u);
    std::memcpy(&v, b + i, sizeof v);
    s += u * v;
    std::memcpy(acc + i, &s, sizeof s);
  }
  for (; i < n; ++i) acc[i] += a[i] * b[i];
}
// [a0, b0, a1, b1, ...]: the lanes of two vectors interleaved, in a vector
// twice as long.
template <class V, size_t... I>
[[gnu::always_inline]] inline auto zip(V a, V b, std::index_sequence<I...>) {
  constexpr size_t w = sizeof...(I);
  return __builtin_shufflevector(a, b, (I % 2 ? w + I / 2 : I / 2)..., (I % 2 ? w + (w + I) / 2 : (w + I) / 2)...);
}
template <int Lanes, class V>
[[gnu::always_inline]] inline auto zip(V a, V b) {
  return zip(a, b, std::make_index_sequence<Lanes>{});
}

// 16 Philox blocks at a time (draw_lanes, in the ISA's vector lanes), each
// giving its four consecutive elements; sixteen keep several independent
// vectors in flight on every path (the ten rounds are a dependency chain).
// The uniform value (w >> 8) 2^-24 is exact in float, so the comparison is
// the scalar kernels' to the bit.
template <int W>
[[gnu::always_inline]] inline void philox_dropout_mask_float_body(float* out, int64_t n,
                                                                  uint64_t seed,
                                                                  uint64_t first_block,
                                                                  float keep, float scale) {
  constexpr int kBlocks = 16;
  using VF = typename Lanes<W>::F;
  using VI = typename Lanes<W>::I;
  typedef uint32_t U __attribute__((vector_size(4 * W)));
  typedef uint64_t Pairs __attribute__((vector_size(8 * W)));
  const VI scale_bits = reinterpret_cast<VI>(splat<VF>(scale));
  for (int64_t first = 0; first < n; first += 4 * kBlocks) {
    uint32_t words[4][kBlocks];
    philox::draw_lanes<kBlocks>(seed, first_block + static_cast<uint64_t>(first / 4), words);
    // W blocks at a time: scale's bits where u < keep (lanes of -1), else 0;
    // block j's four words go to elements 4j .. 4j + 3 (zip words 0 with 1
    // and 2 with 3, then the two results' pairs).
    for (int64_t b0 = 0; b0 < kBlocks && first + 4 * b0 < n; b0 += W) {
      VF m[4];
      for (int k = 0; k < 4; ++k) {
        U c;
        std::memcpy(&c, &words[k][b0], sizeof c);
        const VF u = __builtin_convertvector(c >> 8, VF) * 0x1p-24f;
        m[k] = reinterpret_cast<VF>(scale_bits & (u < keep));
      }
      const auto ordered = zip<W>(reinterpret_cast<Pairs>(zip<W>(m[0], m[1])),
                                  reinterpret_cast<Pairs>(zip<W>(m[2], m[3])));
      const int64_t at = first + 4 * b0, count = std::min<int64_t>(4 * W, n - at);
      std::memcpy(out + at, &ordered, static_cast<size_t>(count) * sizeof(float));
    }
  }
}
}  // namespace

LG_ISA_VARIANTS(void, gelu_float, (float* out, const float* x, int64_t n, bool tanh_form),
                (out, x, n, tanh_form))
LG_ISA_VARIANTS(void, gelu_backward_float,
                (float* grad_in, const float* grad_out, const float* x, int64_t n, bool tanh_form),
                (grad_in, grad_out, x, n, tanh_form))
LG_ISA_VARIANTS(void, sigmoid_float, (float* out, const float* x, int64_t n), (out, x, n))
LG_ISA_VARIANTS(void, silu_float, (float* out, const float* x, int64_t n), (out, x, n))
LG_ISA_VARIANTS(void, silu_backward_float,
                (float* grad_in, const float* grad_out, const float* x, int64_t n),
                (grad_in, grad_out, x, n))
LG_ISA_VARIANTS(void, philox_dropout_mask_float,
                (float* out, int64_t n, uint64_t seed, uint64_t first_block, float keep,
                 float scale),
                (out, n, seed, first_block, keep, scale))
LG_ISA_VARIANTS(void, log_inplace_float, (float* x, int64_t n), (x, n))
LG_ISA_VARIANTS(void, exp_inplace_float, (float* x, int64_t n), (x, n))
LG_ISA_VARIANTS(float, exp_shifted_sum_float, (float* x, int64_t n, float shift), (x, n, shift))
LG_ISA_VARIANTS(float, max_float, (const float* x, int64_t n), (x, n))
LG_ISA_VARIANTS(void, exp_difference_float, (float* out, const float* a, const float* b, int64_t n),
                (out, a, b, n))
LG_ISA_VARIANTS(void, softmax_grad_row_float, (float* dp, const float* p, int64_t n, float d),
                (dp, p, n, d))
LG_ISA_VARIANTS(void, multiply_add_float, (float* acc, const float* a, const float* b, int64_t n),
                (acc, a, b, n))

}  // namespace lg::cpu
