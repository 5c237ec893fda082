// Vectorisable elementwise math for the CPU kernels' hot loops, written so
// the compiler can use AVX-512/AVX2 without -ffast-math (which would turn on
// flush-to-zero for the whole process: LASER's thresholds need denormals).
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace lg::cpu {

// exp for float: x = n ln2 + r with |r| <= ln2/2, e^r by the Cephes degree-6
// polynomial (about 1 ulp), 2^n applied in two normal halves so that results
// underflow gradually to denormals and overflow to inf. exp(-inf) = 0,
// exp(nan) = nan.
inline float exp_float(float x) {
  // Plain selects and casts only: libm calls (fmaxf, floorf) would stop vectorisation.
  float clamped = x < -104.0f ? -104.0f : x;
  clamped = clamped > 88.8f ? 88.8f : clamped;
  const float t = clamped * 1.44269504088896341f;
  const int32_t ni = static_cast<int32_t>(t + (t < 0.0f ? -0.5f : 0.5f));  // round to nearest
  const float n = static_cast<float>(ni);
  float r = clamped - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t half = ni >> 1;  // floor, as the vector version
  const float s1 = std::bit_cast<float>((half + 127) << 23);
  const float s2 = std::bit_cast<float>((ni - half + 127) << 23);
  float y = p * s1 * s2;
  y = x < -104.0f ? 0.0f : y;
  y = x > 88.8f ? INFINITY : y;
  return x != x ? x : y;
}

// x[i] = exp(x[i]); the float version is compiled for AVX-512, AVX2 and
// baseline x86-64, and each call runs the one cpu_isa.h's active_isa() picks.
void exp_inplace_float(float* x, int64_t n);

// x[i] = log(x[i]), vectorised like exp_inplace_float (exact libm for lanes
// that are zero, negative, denormal, inf or NaN).
void log_inplace_float(float* x, int64_t n);

// gelu (exact erf form, or tanh_form) of n floats, and its backward
// grad_in = grad_out * gelu'(x): vectorised like exp_inplace_float, erf by a
// rational approximation (under 2e-7 absolute error), tanh through exp.
void gelu_float(float* out, const float* x, int64_t n, bool tanh_form);
void gelu_backward_float(float* grad_in, const float* grad_out, const float* x, int64_t n,
                         bool tanh_form);

// sigmoid(x) = 1 / (1 + exp(-x)) and silu(x) = x / (1 + exp(-x)) of n
// floats, and silu's backward grad_in = grad_out * s (1 + x (1 - s)) with
// s = sigmoid(x): vectorised like exp_inplace_float.
void sigmoid_float(float* out, const float* x, int64_t n);
void silu_float(float* out, const float* x, int64_t n);
void silu_backward_float(float* grad_in, const float* grad_out, const float* x, int64_t n);
// The dropout mask of n floats from Philox block first_block on (element i is
// word i % 4 of block first_block + i / 4, as philox::word): scale where the
// element's uniform value (its word's top 24 bits times 2^-24) is below keep,
// else 0. The Philox rounds run in the ISA's vector lanes.
void philox_dropout_mask_float(float* out, int64_t n, uint64_t seed, uint64_t first_block,
                               float keep, float scale);
// x[i] = exp(x[i] - shift), returning the sum of the new x[i] (summed in
// vector lanes: the order, and so the rounding, is fixed for each ISA path).
float exp_shifted_sum_float(float* x, int64_t n, float shift);

// The largest x[i], NaNs passed over (as a loop of std::max(best, x[i]));
// -inf when n is 0 or every x[i] is -inf or NaN.
float max_float(const float* x, int64_t n);

// out[i] = exp(a[i] - b[i]) (out may be a).
void exp_difference_float(float* out, const float* a, const float* b, int64_t n);

// dp[i] = p[i] * (dp[i] - d): one row of the softmax backward, from the
// probabilities p, the gradient dp reaching them and d = sum_i p[i] dp[i].
void softmax_grad_row_float(float* dp, const float* p, int64_t n, float d);

// acc[i] += a[i] * b[i] (the compiler may fuse the two where the ISA has FMA).
void multiply_add_float(float* acc, const float* a, const float* b, int64_t n);

template <typename T>
inline T exp_shifted_sum(T* x, int64_t n, T shift) {
  if constexpr (std::is_same_v<T, float>) {
    return exp_shifted_sum_float(x, n, shift);
  } else {
    T sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += x[i] = std::exp(x[i] - shift);
    return sum;
  }
}

template <typename T>
inline T max_of(const T* x, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    return max_float(x, n);
  } else {
    T best = -std::numeric_limits<T>::infinity();
    for (int64_t i = 0; i < n; ++i) best = std::max(best, x[i]);
    return best;
  }
}

template <typename T>
inline void log_inplace(T* x, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    log_inplace_float(x, n);
  } else {
    for (int64_t i = 0; i < n; ++i) x[i] = std::log(x[i]);
  }
}

template <typename T>
inline void exp_inplace(T* x, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    exp_inplace_float(x, n);
  } else {
    for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i]);
  }
}

template <typename T>
inline void exp_difference(T* out, const T* a, const T* b, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    exp_difference_float(out, a, b, n);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = std::exp(a[i] - b[i]);
  }
}

template <typename T>
inline void softmax_grad_row(T* dp, const T* p, int64_t n, T d) {
  if constexpr (std::is_same_v<T, float>) {
    softmax_grad_row_float(dp, p, n, d);
  } else {
    for (int64_t i = 0; i < n; ++i) dp[i] = p[i] * (dp[i] - d);
  }
}

template <typename T>
inline void multiply_add(T* acc, const T* a, const T* b, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    multiply_add_float(acc, a, b, n);
  } else {
    for (int64_t i = 0; i < n; ++i) acc[i] += a[i] * b[i];
  }
}

}  // namespace lg::cpu
