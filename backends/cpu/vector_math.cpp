#include "vector_math.h"

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

}  // namespace

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
