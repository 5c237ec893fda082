// Shared by the backends' elementwise kernels: integer arithmetic that wraps
// around on overflow (two's complement, as PyTorch's integer tensors do)
// without the undefined behaviour of signed overflow. Each operation runs in
// the unsigned type, whose arithmetic is defined modulo 2^N, and converts
// back, which C++20 defines as the same modulo reduction. For bool and the
// floating types the functions are the plain operators. Also the one
// float-to-int64 conversion both backends use.
#pragma once
#include <cstdint>
#include <type_traits>

#ifdef __CUDACC__
#define LG_INTEGER_MATH_FN __host__ __device__ inline
#else
#define LG_INTEGER_MATH_FN inline
#endif

namespace lg::integer_math {

template <typename T>
inline constexpr bool kWraps = std::is_integral_v<T> && !std::is_same_v<T, bool>;

template <typename T>
LG_INTEGER_MATH_FN T add(T a, T b) {
  if constexpr (kWraps<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return static_cast<T>(a + b);
  }
}

template <typename T>
LG_INTEGER_MATH_FN T sub(T a, T b) {
  if constexpr (kWraps<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
  } else {
    return static_cast<T>(a - b);
  }
}

template <typename T>
LG_INTEGER_MATH_FN T mul(T a, T b) {
  if constexpr (kWraps<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
  } else {
    return static_cast<T>(a * b);
  }
}

// Truncating division with the kernels' convention x / 0 = 0 for integers;
// INT64_MIN / -1 wraps to INT64_MIN (it traps on x86 as a plain division).
template <typename T>
LG_INTEGER_MATH_FN T div(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if (b == T(0)) return T(0);
    if constexpr (kWraps<T>)
      if (b == T(-1)) return sub<T>(T(0), a);
    return static_cast<T>(a / b);
  } else {
    return a / b;
  }
}

// -INT64_MIN wraps to INT64_MIN, as in PyTorch.
template <typename T>
LG_INTEGER_MATH_FN T neg(T a) {
  if constexpr (kWraps<T>)
    return sub<T>(T(0), a);
  else
    return static_cast<T>(-a);
}

// abs(INT64_MIN) is INT64_MIN, as in PyTorch.
template <typename T>
LG_INTEGER_MATH_FN T abs(T a) {
  return a < T(0) ? neg<T>(a) : a;
}

// a^b for an integer exponent b >= 0, by squaring: exact wherever the result
// fits, and otherwise the wrapped product of b factors a. The base is squared
// only while bits of b remain, so no square beyond the last one used is taken.
template <typename T>
LG_INTEGER_MATH_FN T pow_nonnegative(T a, T b) {
  T result = 1;
  while (true) {
    if (b & 1) result = mul<T>(result, a);
    b >>= 1;
    if (b == 0) return result;
    a = mul<T>(a, a);
  }
}

// PyTorch's integer pow for a tensor exponent: a negative exponent gives the
// integer part of a^b, which is 1 for a = 1, ±1 for a = -1 and 0 otherwise.
template <typename T>
LG_INTEGER_MATH_FN T pow(T a, T b) {
  if (b < 0) return a == 1 ? T(1) : (a == -1 ? (b % 2 ? T(-1) : T(1)) : T(0));
  return pow_nonnegative<T>(a, b);
}

// static_cast, except that a float int64 cannot hold (NaN, ±inf, |v| >= 2^63)
// converts to INT64_MIN, what x86 gives and PyTorch's CPU casts show, instead
// of being undefined behaviour.
template <typename To, typename From>
LG_INTEGER_MATH_FN To convert(From v) {
  if constexpr (std::is_same_v<To, int64_t> && std::is_floating_point_v<From>) {
    const bool fits = v >= From(-0x1p63) && v < From(0x1p63);  // false for NaN
    return fits ? static_cast<To>(v) : INT64_MIN;
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace lg::integer_math
