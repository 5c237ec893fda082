// Shared by the CPU softmax and loss kernels: exp of shifted rows through
// the runtime-dispatched vector exp (vector_math.h), which a scalar exp
// inside a loop would not reach.
#pragma once
#include <algorithm>
#include <cstdint>

#include "vector_math.h"

namespace lg::cpu {

// out[i] = exp(in[i] - shift); out may alias in.
template <typename T>
void exp_shifted(T* out, const T* in, int64_t n, T shift) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = in[i] - shift;
  exp_inplace(out, n);
}

// sum_i exp(in[i] - shift), through a stack buffer (no allocation per row).
template <typename T>
T sum_exp_shifted(const T* in, int64_t n, T shift) {
  constexpr int64_t kBlock = 512;
  T buf[kBlock];
  T s = 0;
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const int64_t len = std::min(kBlock, n - i0);
    exp_shifted(buf, in + i0, len, shift);
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < len; ++i) s += buf[i];
  }
  return s;
}

}  // namespace lg::cpu
