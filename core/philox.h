// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
// SC 2011): a counter-based generator. Header-only and free of host-only
// calls so both the CPU and the CUDA backends draw identical numbers.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#ifdef __CUDACC__
#define LG_HOST_DEVICE __host__ __device__
#else
#define LG_HOST_DEVICE
#endif

namespace lg::philox {

struct Block {
  uint32_t v[4];
};

LG_HOST_DEVICE inline uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// Four 32-bit random words for counter `counter` under key `seed`.
LG_HOST_DEVICE inline Block draw(uint64_t seed, uint64_t counter) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
  uint32_t c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo(0xD2511F53u, c0, &hi0);
    uint32_t lo1 = mulhilo(0xCD9E8D57u, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

#ifndef __CUDACC__
// Blocks first .. first + L - 1, each as draw(seed, counter) gives it, computed
// side by side (one array per word) so that the compiler vectorises the
// rounds (the 32x32 -> 64-bit products become pmuludq): v[k][j] is word k of
// block first + j. For the CPU's bulk fills; always inlined, so that it takes
// the vector width of the ISA its caller is compiled for.
template <int L>
[[gnu::always_inline]] inline void draw_lanes(uint64_t seed, uint64_t first, uint32_t (&v)[4][L]) {
  uint32_t c0[L], c1[L], c2[L], c3[L];
  for (int j = 0; j < L; ++j) {
    const uint64_t counter = first + static_cast<uint64_t>(j);
    c0[j] = static_cast<uint32_t>(counter);
    c1[j] = static_cast<uint32_t>(counter >> 32);
    c2[j] = 0;
    c3[j] = 0;
  }
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    // Kept a loop: -O3's complete unrolling would otherwise turn it into
    // scalar code before the vectoriser sees it.
#pragma GCC unroll 1
    for (int j = 0; j < L; ++j) {
      const uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0[j];
      const uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2[j];
      const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1[j] ^ k0;
      const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3[j] ^ k1;
      c1[j] = static_cast<uint32_t>(p1);
      c3[j] = static_cast<uint32_t>(p0);
      c0[j] = n0;
      c2[j] = n2;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  for (int j = 0; j < L; ++j) {
    v[0][j] = c0[j];
    v[1][j] = c1[j];
    v[2][j] = c2[j];
    v[3][j] = c3[j];
  }
}
#endif

// Uniform in [0, 1) with 24 (float) or 32 random bits.
LG_HOST_DEVICE inline double to_unit(uint32_t x) { return x * (1.0 / 4294967296.0); }

// The uniform value in [0, 1) that a word gives a T: float takes the top 24
// bits, so that the value cannot round up to 1 in float; double takes all 32.
template <typename T>
LG_HOST_DEVICE inline double unit_value(uint32_t w) {
  return std::is_same_v<T, float> ? (w >> 8) * (1.0 / 16777216.0) : to_unit(w);
}

// Element i of a stream that starts at counter `offset` (a multiple of 4).
LG_HOST_DEVICE inline uint32_t word(uint64_t seed, uint64_t offset, uint64_t i) {
  Block b = draw(seed, (offset + i) / 4);
  return b.v[(offset + i) % 4];
}

// Standard normal for element i (Box-Muller on two words of its own block pair).
LG_HOST_DEVICE inline double normal(uint64_t seed, uint64_t offset, uint64_t i) {
  Block b = draw(seed ^ 0x9E3779B97F4A7C15ull, offset + i);
  double u1 = (b.v[0] + 1.0) * (1.0 / 4294967297.0);  // (0, 1)
  double u2 = to_unit(b.v[1]);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace lg::philox
