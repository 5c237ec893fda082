#include "vector_math.h"

#include <cfloat>
#include <cstring>

// The vector helpers below are always inlined into each clone of
// exp_inplace_float, so their by-value vector ABI never crosses a call.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace lg::cpu {
namespace {

// exp_float on 16 lanes with GCC vector extensions: the compiler does not
// if-convert the scalar version's selects, so the vector form spells them out.
using vf16 = float __attribute__((vector_size(64)));
using vi16 = int32_t __attribute__((vector_size(64)));

[[gnu::always_inline]] inline vf16 splat(float v) { return vf16{} + v; }

[[gnu::always_inline]] inline vf16 exp16(vf16 x) {
  vf16 c = x < -104.0f ? splat(-104.0f) : x;
  c = c > 88.8f ? splat(88.8f) : c;
  const vf16 t = c * 1.44269504088896341f;
  const vi16 ni = __builtin_convertvector(t + (t < 0.0f ? splat(-0.5f) : splat(0.5f)), vi16);
  const vf16 n = __builtin_convertvector(ni, vf16);
  vf16 r = c - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  vf16 p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const vi16 half = ni >> 1;
  const vf16 s1 = reinterpret_cast<vf16>((half + 127) << 23);
  const vf16 s2 = reinterpret_cast<vf16>((ni - half + 127) << 23);
  vf16 y = p * s1 * s2;
  y = x < -104.0f ? splat(0.0f) : y;
  y = x > 88.8f ? splat(INFINITY) : y;
  return x != x ? x : y;
}

// log on 16 lanes of normal, finite, positive floats (the caller checks):
// x = m 2^e with m in [sqrt(1/2), sqrt(2)), log m by the Cephes logf polynomial.
[[gnu::always_inline]] inline vf16 log16(vf16 x) {
  const vi16 bits = reinterpret_cast<vi16>(x);
  vi16 e = ((bits >> 23) & 0xff) - 126;
  vf16 m = reinterpret_cast<vf16>((bits & 0x807fffff) | 0x3f000000);  // in [0.5, 1)
  const vi16 small = m < 0.707106781186547524f;
  e = e + small;  // small is -1 (all bits) where true
  m = (small ? m + m : m) - 1.0f;
  const vf16 z = m * m;
  vf16 y = splat(7.0376836292e-2f);
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  const vf16 ef = __builtin_convertvector(e, vf16);
  y = y + ef * -2.12194440e-4f;
  y = y - 0.5f * z;
  return m + y + ef * 0.693359375f;
}

}  // namespace

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
void log_inplace_float(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    vf16 v;
    std::memcpy(&v, x + i, sizeof v);
    // Zero, negative, denormal, inf or NaN lanes take the exact scalar path.
    const vi16 ok = (v >= FLT_MIN) & (v <= FLT_MAX);
    bool all_ok = true;
    for (int k = 0; k < 16; ++k) all_ok = all_ok && ok[k];
    if (all_ok) {
      v = log16(v);
      std::memcpy(x + i, &v, sizeof v);
    } else {
      for (int k = 0; k < 16; ++k) x[i + k] = std::log(x[i + k]);
    }
  }
  for (; i < n; ++i) x[i] = std::log(x[i]);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
void exp_inplace_float(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    vf16 v;
    std::memcpy(&v, x + i, sizeof v);
    v = exp16(v);
    std::memcpy(x + i, &v, sizeof v);
  }
  for (; i < n; ++i) x[i] = exp_float(x[i]);
}

}  // namespace lg::cpu
