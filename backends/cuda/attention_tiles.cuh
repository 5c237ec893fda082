// Shared by the CUDA attention kernels (attention.cu, attention_backward.cu):
// the problem as the kernels see it, the tile sizes per head-dim bound, and
// the register-tiled FP32 products over shared-memory tiles that every
// kernel builds on. Float32 only (float64 runs the composite formula).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "kernel_launch.cuh"

namespace lg::cuda::attention {

constexpr float kInf = __builtin_inff();

// Every tiled kernel runs 128 threads, a 16 x 8 grid: thread (ty, tx) owns
// the tile rows ty + 16 i and, per product, a set of columns (below). The 8
// threads of a row group are 8 consecutive lanes of one warp, so row-wise
// max and sum are three shuffles.
constexpr int kThreads = 128, kTY = 16, kTX = 8;

// The forward's query tile equals the CPU's (kTileQ = 64): LASER's running
// column max r is per query tile, so the same tiles give the same r and flag
// the same rows as the CPU. The backward's query tiles divide it, so that the
// rows of one backward tile share one r.
constexpr int kForwardTileQ = 64;

// A row is recomputed exactly when some column sits this far below its r
// (as on the CPU; exp(-60) is still a normal float).
constexpr float kFlagGap = 60.0f;

// Tile sizes for head dims up to MaxD (d rounded up to 32, 64, 128 or 256).
// Tiles live in shared memory with rows padded by 4 floats (16-byte rows for
// float4 reads; 8 consecutive rows start in 8 different bank quads, so the
// products read without bank conflicts). FP32 FMA tiles are bound by
// shared-memory bandwidth, so the products read float4s into 4 x 4..16
// register accumulators per thread. Key tiles shrink as d grows so that a
// block stays under ~80 KiB of shared memory: forward 46/70/78/107 KiB, dK/dV
// 64/80/70/86 KiB (LASER; softmax has no E tile), dQ 55/62/73/68 KiB for
// d <= 32/64/128/256. That is 2 blocks (8 warps) per SM on sm_80 (164 KiB
// per SM) and 2-3 on sm_90 (228 KiB) up to d = 128; d = 256 runs one.
template <int MaxD>
struct Tiles {
  static_assert(MaxD == 32 || MaxD == 64 || MaxD == 128 || MaxD == 256);
  static constexpr int kLd = MaxD + 4;  // row stride of the [rows][d] tiles
  // forward: 64 queries walk key tiles of kForwardK
  static constexpr int kForwardK = MaxD <= 64 ? 64 : MaxD == 128 ? 32 : 16;
  // dK/dV: kKeyBlockK keys walk query tiles of kKeyBlockQ
  static constexpr int kKeyBlockK = MaxD <= 64 ? 64 : MaxD == 128 ? 32 : 16;
  static constexpr int kKeyBlockQ = MaxD == 32 ? 64 : MaxD == 64 ? 32 : 16;
  // dQ: kQueryBlockQ queries walk key tiles of kQueryBlockK
  static constexpr int kQueryBlockQ = MaxD <= 64 ? 64 : MaxD == 128 ? 32 : 16;
  static constexpr int kQueryBlockK = MaxD == 32 ? 64 : MaxD <= 128 ? 32 : 16;
  static_assert(kForwardTileQ % kKeyBlockQ == 0 && kForwardTileQ % kQueryBlockQ == 0);
};

// One [B,H,T,d] operand: unit stride along d, any batch, head and row strides.
template <typename P>
struct Rows {
  P* base = nullptr;
  int64_t sb = 0, sh = 0, st = 0;
  __device__ P* row(int64_t b, int64_t h, int64_t t) const {
    return base + b * sb + h * sh + t * st;
  }
};

template <typename P>
Rows<P> rows_of(const Tensor& t) {
  return {ptr<std::remove_const_t<P>>(t), t.strides()[0], t.strides()[1], t.strides()[2]};
}

// Sizes, scale, causality and the additive mask (viewed [B,H,Tq,Tk], stride 0
// on broadcast dims; null without one).
struct Problem {
  int64_t B = 0, H = 0, Tq = 0, Tk = 0, d = 0;
  float scale = 1;
  bool causal = false;
  const float* mask = nullptr;
  int64_t mb = 0, mh = 0, mq = 0, mk = 0;
  Rows<const float> q, k, v;

  // Key j is visible to query i when j <= i + causal_offset() (bottom-right aligned).
  __device__ int64_t causal_offset() const { return Tk - Tq; }
  __device__ bool visible(int64_t i, int64_t j) const { return !causal || j <= i + Tk - Tq; }
  // scale * dot + mask[b,h,i,j]
  __device__ float score(float dot, int64_t b, int64_t h, int64_t i, int64_t j) const {
    const float s = dot * scale;
    return mask ? s + mask[b * mb + h * mh + i * mq + j * mk] : s;
  }
};

Problem make_problem(const AttentionProblem& p);

// Launch bound per head dim: 32, 64, 128 or 256, the smallest >= d.
int max_head_dim_for(int64_t d, const char* op);

// Runs f.template operator()<MaxD>() for max_head_dim_for(d).
template <typename F>
void with_max_head_dim(int64_t d, const char* op, F&& f) {
  switch (max_head_dim_for(d, op)) {
    case 32:
      return f.template operator()<32>();
    case 64:
      return f.template operator()<64>();
    case 128:
      return f.template operator()<128>();
    default:
      return f.template operator()<256>();
  }
}

// Lets a kernel use more than the default 48 KiB of dynamic shared memory.
void allow_shared_memory(const void* kernel, size_t bytes, const char* op);

// Throws unless `rows` are float32 [B,H,T,d] with unit stride along d, `dense`
// are contiguous and the mask (if any) is float32 [B,H,Tq,Tk].
void check_operands(const AttentionProblem& p, std::initializer_list<const Tensor*> rows,
                    std::initializer_list<const Tensor*> dense, const char* op);

// The backward (attention_backward.cu), for the kernel table.
void attention_backward(const AttentionProblem& p, const Tensor& out, const Tensor& grad_out,
                        const Tensor& lse, const Tensor& row_max, const Tensor& flags,
                        const Tensor& dq, const Tensor& dk, const Tensor& dv);

__device__ inline int tile_ty() { return static_cast<int>(threadIdx.x) / kTX; }
__device__ inline int tile_tx() { return static_cast<int>(threadIdx.x) % kTX; }
__device__ inline int tile_row(int i) { return tile_ty() + kTY * i; }
// Column j of a thread in a product with a "transposed" right operand (tile_nt).
__device__ inline int nt_col(int j) { return tile_tx() + kTX * j; }
// Column j of a thread in a plain product (tile_nn): groups of 4 adjacent columns.
__device__ inline int nn_col(int j) { return 4 * tile_tx() + 4 * kTX * (j / 4) + j % 4; }

// Combines v over the 8 threads of a row group.
template <typename Combine>
__device__ inline float row_group_reduce(float v, Combine combine) {
  for (int m = kTX / 2; m > 0; m /= 2) v = combine(v, __shfl_xor_sync(0xffffffffu, v, m));
  return v;
}
__device__ inline bool row_group_any(bool v) {
  int x = v;
  for (int m = kTX / 2; m > 0; m /= 2) x |= __shfl_xor_sync(0xffffffffu, x, m);
  return x != 0;
}

__device__ inline float warp_sum(float v) {
  for (int m = 16; m > 0; m /= 2) v += __shfl_xor_sync(0xffffffffu, v, m);
  return v;  // the same bits on every lane (each step adds a pair both ways)
}

// c[i][j] += sum_k a[tile_row(i)][k] * b[nt_col(j)][k] over k < k4 (a multiple
// of 4; the tiles are zero beyond their valid columns).
template <int RM, int RN>
__device__ inline void tile_nt(float (&c)[RM][RN], const float* a, int lda, const float* b, int ldb,
                               int k4) {
  for (int k = 0; k < k4; k += 4) {
    float4 x[RM], y[RN];
#pragma unroll
    for (int i = 0; i < RM; ++i) x[i] = *reinterpret_cast<const float4*>(a + tile_row(i) * lda + k);
#pragma unroll
    for (int j = 0; j < RN; ++j) y[j] = *reinterpret_cast<const float4*>(b + nt_col(j) * ldb + k);
#pragma unroll
    for (int i = 0; i < RM; ++i)
#pragma unroll
      for (int j = 0; j < RN; ++j) {
        float s = c[i][j];
        s = fmaf(x[i].x, y[j].x, s);
        s = fmaf(x[i].y, y[j].y, s);
        s = fmaf(x[i].z, y[j].z, s);
        c[i][j] = fmaf(x[i].w, y[j].w, s);
      }
  }
}

// c[i][j] += sum_k a[tile_row(i)][k] * b[k][nn_col(j)] over k < k4 (a multiple of 4).
template <int RM, int RN>
__device__ inline void tile_nn(float (&c)[RM][RN], const float* a, int lda, const float* b, int ldb,
                               int k4) {
  static_assert(RN % 4 == 0, "plain products own groups of 4 columns");
  for (int k = 0; k < k4; k += 4) {
    float4 x[RM];
#pragma unroll
    for (int i = 0; i < RM; ++i) x[i] = *reinterpret_cast<const float4*>(a + tile_row(i) * lda + k);
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      float4 y[RN / 4];
#pragma unroll
      for (int g = 0; g < RN / 4; ++g)
        y[g] = *reinterpret_cast<const float4*>(b + (k + kk) * ldb + nn_col(4 * g));
#pragma unroll
      for (int i = 0; i < RM; ++i) {
        const float xi = kk == 0 ? x[i].x : kk == 1 ? x[i].y : kk == 2 ? x[i].z : x[i].w;
#pragma unroll
        for (int g = 0; g < RN / 4; ++g) {
          c[i][4 * g] = fmaf(xi, y[g].x, c[i][4 * g]);
          c[i][4 * g + 1] = fmaf(xi, y[g].y, c[i][4 * g + 1]);
          c[i][4 * g + 2] = fmaf(xi, y[g].z, c[i][4 * g + 2]);
          c[i][4 * g + 3] = fmaf(xi, y[g].w, c[i][4 * g + 3]);
        }
      }
    }
  }
}

// Copies rows [t0, t0 + n) of one slice's operand into a [rows][Ld] tile,
// zero beyond n rows and d columns (the products read whole tiles).
template <int Rows_, int MaxD, int Ld>
__device__ inline void load_tile(float* tile, const float* first_row, int64_t row_stride, int n,
                                 int64_t d) {
  for (int idx = threadIdx.x; idx < Rows_ * MaxD; idx += kThreads) {
    const int r = idx / MaxD, c = idx % MaxD;
    tile[r * Ld + c] = r < n && c < d ? first_row[r * row_stride + c] : 0.0f;
  }
}

// The columns of a row held by one lane of a warp (c = lane + 32 t), for the
// one-warp-per-row kernels of the exact LASER path.
constexpr int kLaneCols = 256 / 32;

__host__ __device__ inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
__host__ __device__ inline int64_t max64(int64_t a, int64_t b) { return a < b ? b : a; }

// The head dim rounded up to the products' step of 4 (the tiles are zero beyond d).
__host__ __device__ inline int round_up4(int64_t d) { return static_cast<int>((d + 3) / 4 * 4); }

// The query tile a block of a per-query-tile grid takes: its (batch, head)
// slice bh = (b, h), first query q0 and nq queries. A slice's tiles are taken
// last to first, so the costliest causal tiles start first.
struct QueryTile {
  int64_t bh, b, h, q0;
  int nq;
};
template <int kQ>
__device__ inline QueryTile query_tile(const Problem& pr) {
  const int64_t q_tiles = (pr.Tq + kQ - 1) / kQ;
  const int64_t bh = blockIdx.x / q_tiles;
  const int64_t q0 = (q_tiles - 1 - blockIdx.x % q_tiles) * kQ;
  return {bh, bh / pr.H, bh % pr.H, q0, static_cast<int>(min64(kQ, pr.Tq - q0))};
}

}  // namespace lg::cuda::attention
