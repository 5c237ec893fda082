// CUDA flash-style attention backward for softmax and LASER, float32
// (docs/laser.md, "The backward"; the CPU twin is backends/cpu/attention.cpp).
// Scores are recomputed tile by tile as P = exp(S - L) from the saved
// log-sum-exp, so memory stays linear in T:
//
//   1. prepare_rows: D_i (rowsum(dO * O) for softmax; rowsum(dO) for LASER)
//      and, for LASER, G = dO * exp(r - O), both 0 on flagged and empty rows.
//   2. key_block_kernel: one block per key tile walks the query tiles that
//      see it and accumulates dK and dV in registers (LASER: dV = E * P^T G
//      with E = exp(V - r), r being the query tile's saved shift).
//   3. query_block_kernel: one block per query tile walks its key tiles and
//      accumulates dQ. Recomputing S and dP there costs about a third more
//      arithmetic than FlashAttention-2's atomic dQ, and buys deterministic
//      gradients without a float atomic per element.
//   4. LASER's flagged rows, exactly (W_ijc = exp(s_ij - L_i + v_jc - O_ic)):
//      dQ by one warp per flagged row, dK and dV by one warp per key over the
//      slice's list of flagged rows (list_flagged_rows), again without atomics.
//
// With U the upstream operand (dO for softmax, G for LASER) and W the values
// (V, or E for LASER), both tiled kernels compute dP = U Wᵀ and
// dS = P * (dP - D); dQ = scale dS K, dK = scale dSᵀ Q.
#include <climits>
#include <cmath>

#include "attention_tiles.cuh"

namespace lg::cuda::attention {
namespace {

struct BackwardArgs {
  Problem pr;
  Rows<const float> out, grad;
  Rows<const float> up;  // dO (softmax) or G (LASER, contiguous [B,H,Tq,d])
  const float* lse;
  const float* row_max;  // LASER only
  const bool* flags;     // LASER only
  Rows<float> dq, dk, dv;
  float* D;                 // [B,H,Tq]
  float* G;                 // LASER only: [B,H,Tq,d]
  int64_t* flagged_rows;    // LASER only: per slice, its flagged rows in order ([B,H,Tq])
  int64_t* flagged_counts;  // LASER only: [B,H]
};

constexpr int kWarpsPerBlock = kThreads / 32;

// Step 1, one warp per row.
template <bool Laser>
__global__ void __launch_bounds__(kThreads) prepare_rows(BackwardArgs a) {
  const Problem& pr = a.pr;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= pr.B * pr.H * pr.Tq) return;
  const int lane = threadIdx.x % 32;
  const int64_t bh = row / pr.Tq, i = row % pr.Tq, b = bh / pr.H, h = bh % pr.H;
  const float *o = a.out.row(b, h, i), *go = a.grad.row(b, h, i);
  float acc = 0;
  if (!Laser) {
    for (int64_t c = lane; c < pr.d; c += 32) acc = fmaf(go[c], o[c], acc);
  } else {
    // Flagged rows take the exact path, rows without keys have no gradient.
    const bool skip = a.flags[row] || !(a.lse[row] < kInf);
    const float* r = a.row_max + row * pr.d;
    float* g = a.G + row * pr.d;
    for (int64_t c = lane; c < pr.d; c += 32) {
      g[c] = skip ? 0.0f : expf(r[c] - o[c]) * go[c];
      acc += skip ? 0.0f : go[c];
    }
  }
  acc = warp_sum(acc);
  if (lane == 0) a.D[row] = acc;
}

// Shared-memory layout (in floats) and register tiles of the dK/dV kernel
// (LASER's E tile only for LASER).
template <int MaxD, bool Laser>
struct KeyBlockLayout {
  static constexpr int kK = Tiles<MaxD>::kKeyBlockK, kQ = Tiles<MaxD>::kKeyBlockQ;
  static constexpr int kLd = Tiles<MaxD>::kLd, kPLd = kQ + 4;
  static constexpr int kRows = kK / kTY, kScoreCols = kQ / kTX, kOutCols = MaxD / kTX;
  static constexpr int kKOff = 0, kVOff = kK * kLd, kEOff = kVOff + kK * kLd;
  static constexpr int kQOff = kEOff + (Laser ? kK * kLd : 0), kUOff = kQOff + kQ * kLd;
  static constexpr int kPOff = kUOff + kQ * kLd, kLOff = kPOff + kK * kPLd;
  static constexpr int kDOff = kLOff + kQ, kROff = kDOff + kQ, kAttendedOff = kROff + MaxD;
  static constexpr size_t kBytes = sizeof(float) * (kAttendedOff + kK);
};

// Shared-memory layout (in floats) and register tiles of the dQ kernel.
template <int MaxD>
struct QueryBlockLayout {
  static constexpr int kQ = Tiles<MaxD>::kQueryBlockQ, kK = Tiles<MaxD>::kQueryBlockK;
  static constexpr int kLd = Tiles<MaxD>::kLd, kPLd = kK + 4;
  static constexpr int kRows = kQ / kTY, kScoreCols = kK / kTX, kOutCols = MaxD / kTX;
  static constexpr int kQOff = 0, kUOff = kQ * kLd, kKOff = kUOff + kQ * kLd;
  static constexpr int kVOff = kKOff + kK * kLd, kPOff = kVOff + kK * kLd;
  static constexpr int kLOff = kPOff + kQ * kPLd, kDOff = kLOff + kQ, kROff = kDOff + kQ;
  static constexpr int kAttendedOff = kROff + MaxD;
  static constexpr size_t kBytes = sizeof(float) * (kAttendedOff + kK);
};

// Scores of a tile with rows i and columns j, where (query, key) of element
// (i, j) is (q0 + row, k0 + col) or, KeyRows, (q0 + col, k0 + row): -inf
// where masked, causal-hidden or beyond the tile.
template <bool KeyRows, int RM, int RN>
__device__ void finish_scores(float (&s)[RM][RN], const Problem& pr, int64_t b, int64_t h,
                              int64_t q0, int nq, int64_t k0, int nk) {
#pragma unroll
  for (int i = 0; i < RM; ++i)
#pragma unroll
    for (int j = 0; j < RN; ++j) {
      const int qq = KeyRows ? nt_col(j) : tile_row(i), kk = KeyRows ? tile_row(i) : nt_col(j);
      const int64_t qi = q0 + qq, kj = k0 + kk;
      const bool valid = qq < nq && kk < nk && pr.visible(qi, kj);
      s[i][j] = valid ? pr.score(s[i][j], b, h, qi, kj) : -kInf;
    }
}

// LASER's value tile for one query tile: E = exp(V - r), 0 for keys no row
// of the tile attends (they may exceed r; their weight is 0) and beyond d.
template <int Rows_, int MaxD, int Ld>
__device__ void shift_values(float* e_tile, const float* v_tile, const float* r,
                             const float* attended, int64_t d) {
  for (int idx = threadIdx.x; idx < Rows_ * MaxD; idx += kThreads) {
    const int jj = idx / MaxD, c = idx % MaxD;
    e_tile[jj * Ld + c] = attended[jj] != 0.0f && c < d ? expf(v_tile[jj * Ld + c] - r[c]) : 0.0f;
  }
}

// lse, D and (LASER) the tile's shift r (the same for all rows of a forward
// tile, which this tile lies in) for query rows [q0, q0 + nq); rows beyond
// get lse = +inf (P = 0) and D = 0.
template <int Q, int MaxD, bool Laser>
__device__ void load_row_stats(const BackwardArgs& a, int64_t bh, int64_t q0, int nq, float* l_s,
                               float* d_s, float* r_s) {
  const int64_t first = bh * a.pr.Tq + q0;
  for (int ii = threadIdx.x; ii < Q; ii += kThreads) {
    l_s[ii] = ii < nq ? a.lse[first + ii] : kInf;
    d_s[ii] = ii < nq ? a.D[first + ii] : 0.0f;
  }
  if (Laser)
    for (int c = threadIdx.x; c < MaxD; c += kThreads)
      r_s[c] = c < a.pr.d ? a.row_max[first * a.pr.d + c] : 0.0f;
}

// Step 2: dK and dV of one key tile.
template <int MaxD, bool Laser>
__global__ void __launch_bounds__(kThreads) key_block_kernel(BackwardArgs a) {
  using L = KeyBlockLayout<MaxD, Laser>;
  extern __shared__ float4 shared_words[];
  float* sm = reinterpret_cast<float*>(shared_words);
  float *k_s = sm + L::kKOff, *v_s = sm + L::kVOff, *e_s = sm + L::kEOff, *q_s = sm + L::kQOff;
  float *u_s = sm + L::kUOff, *p_s = sm + L::kPOff, *l_s = sm + L::kLOff, *d_s = sm + L::kDOff;
  float *r_s = sm + L::kROff, *attended_s = sm + L::kAttendedOff;
  const Problem& pr = a.pr;
  const int64_t k_tiles = (pr.Tk + L::kK - 1) / L::kK;
  const int64_t bh = blockIdx.x / k_tiles, b = bh / pr.H, h = bh % pr.H;
  const int64_t k0 = blockIdx.x % k_tiles * L::kK;
  const int nk = static_cast<int>(min64(L::kK, pr.Tk - k0));
  const int d4 = round_up4(pr.d);
  load_tile<L::kK, MaxD, L::kLd>(k_s, pr.k.row(b, h, k0), pr.k.st, nk, pr.d);
  load_tile<L::kK, MaxD, L::kLd>(v_s, pr.v.row(b, h, k0), pr.v.st, nk, pr.d);
  float dk[L::kRows][L::kOutCols] = {}, dv[L::kRows][L::kOutCols] = {};
  // Earlier query tiles see none of these keys.
  const int64_t q_begin = pr.causal ? max64(0, k0 - (pr.Tk - pr.Tq)) / L::kQ * L::kQ : 0;
  for (int64_t q0 = q_begin; q0 < pr.Tq; q0 += L::kQ) {
    const int nq = static_cast<int>(min64(L::kQ, pr.Tq - q0));
    __syncthreads();  // the previous query tile's products are done
    load_tile<L::kQ, MaxD, L::kLd>(q_s, pr.q.row(b, h, q0), pr.q.st, nq, pr.d);
    load_tile<L::kQ, MaxD, L::kLd>(u_s, a.up.row(b, h, q0), a.up.st, nq, pr.d);
    load_row_stats<L::kQ, MaxD, Laser>(a, bh, q0, nq, l_s, d_s, r_s);
    __syncthreads();

    float p[L::kRows][L::kScoreCols] = {};  // Sᵀ, then Pᵀ: rows are keys
    tile_nt(p, k_s, L::kLd, q_s, L::kLd, d4);
    finish_scores<true>(p, pr, b, h, q0, nq, k0, nk);
#pragma unroll
    for (int i = 0; i < L::kRows; ++i) {
      bool attended = false;
#pragma unroll
      for (int j = 0; j < L::kScoreCols; ++j) {
        attended = attended || p[i][j] > -kInf;
        p[i][j] = expf(p[i][j] - l_s[nt_col(j)]);
        p_s[tile_row(i) * L::kPLd + nt_col(j)] = p[i][j];
      }
      if (Laser) {
        attended = row_group_any(attended);  // the key's row group covers the whole query tile
        if (tile_tx() == 0) attended_s[tile_row(i)] = attended ? 1.0f : 0.0f;
      }
    }
    __syncthreads();  // p_s, attended_s
    if (Laser) {
      shift_values<L::kK, MaxD, L::kLd>(e_s, v_s, r_s, attended_s, pr.d);
      __syncthreads();
      float pg[L::kRows][L::kOutCols] = {};  // Pᵀ G, scaled by E per element
      tile_nn(pg, p_s, L::kPLd, u_s, L::kLd, L::kQ);
#pragma unroll
      for (int i = 0; i < L::kRows; ++i)
#pragma unroll
        for (int j = 0; j < L::kOutCols; ++j)
          dv[i][j] = fmaf(e_s[tile_row(i) * L::kLd + nn_col(j)], pg[i][j], dv[i][j]);
    } else {
      tile_nn(dv, p_s, L::kPLd, u_s, L::kLd, L::kQ);
    }
    float dp[L::kRows][L::kScoreCols] = {};  // dPᵀ = W Uᵀ
    tile_nt(dp, Laser ? e_s : v_s, L::kLd, u_s, L::kLd, d4);
    __syncthreads();  // everyone is done reading Pᵀ
#pragma unroll
    for (int i = 0; i < L::kRows; ++i)
#pragma unroll
      for (int j = 0; j < L::kScoreCols; ++j)
        p_s[tile_row(i) * L::kPLd + nt_col(j)] = p[i][j] * (dp[i][j] - d_s[nt_col(j)]);
    __syncthreads();
    tile_nn(dk, p_s, L::kPLd, q_s, L::kLd, L::kQ);  // dSᵀ Q
  }
#pragma unroll
  for (int i = 0; i < L::kRows; ++i) {
    if (tile_row(i) >= nk) continue;
    float *dk_row = a.dk.row(b, h, k0 + tile_row(i)), *dv_row = a.dv.row(b, h, k0 + tile_row(i));
#pragma unroll
    for (int j = 0; j < L::kOutCols; ++j) {
      if (nn_col(j) >= pr.d) continue;
      dk_row[nn_col(j)] += pr.scale * dk[i][j];
      dv_row[nn_col(j)] += dv[i][j];
    }
  }
}

// Step 3: dQ of one query tile.
template <int MaxD, bool Laser>
__global__ void __launch_bounds__(kThreads) query_block_kernel(BackwardArgs a) {
  using L = QueryBlockLayout<MaxD>;
  extern __shared__ float4 shared_words[];
  float* sm = reinterpret_cast<float*>(shared_words);
  float *q_s = sm + L::kQOff, *u_s = sm + L::kUOff, *k_s = sm + L::kKOff, *v_s = sm + L::kVOff;
  float *p_s = sm + L::kPOff, *l_s = sm + L::kLOff, *d_s = sm + L::kDOff, *r_s = sm + L::kROff;
  float* attended_s = sm + L::kAttendedOff;
  const Problem& pr = a.pr;
  const QueryTile tile = query_tile<L::kQ>(pr);
  const int64_t bh = tile.bh, b = tile.b, h = tile.h, q0 = tile.q0;
  const int nq = tile.nq;
  const int d4 = round_up4(pr.d);
  load_tile<L::kQ, MaxD, L::kLd>(q_s, pr.q.row(b, h, q0), pr.q.st, nq, pr.d);
  load_tile<L::kQ, MaxD, L::kLd>(u_s, a.up.row(b, h, q0), a.up.st, nq, pr.d);
  load_row_stats<L::kQ, MaxD, Laser>(a, bh, q0, nq, l_s, d_s, r_s);
  float dq[L::kRows][L::kOutCols] = {};
  const int64_t key_end = pr.causal ? min64(pr.Tk, q0 + nq + (pr.Tk - pr.Tq)) : pr.Tk;
  for (int64_t k0 = 0; k0 < key_end; k0 += L::kK) {
    const int nk = static_cast<int>(min64(L::kK, pr.Tk - k0));
    __syncthreads();  // the previous key tile's products are done
    load_tile<L::kK, MaxD, L::kLd>(k_s, pr.k.row(b, h, k0), pr.k.st, nk, pr.d);
    load_tile<L::kK, MaxD, L::kLd>(v_s, pr.v.row(b, h, k0), pr.v.st, nk, pr.d);
    if (Laser && threadIdx.x < L::kK) attended_s[threadIdx.x] = 0.0f;
    __syncthreads();

    float p[L::kRows][L::kScoreCols] = {};
    tile_nt(p, q_s, L::kLd, k_s, L::kLd, d4);
    finish_scores<false>(p, pr, b, h, q0, nq, k0, nk);
#pragma unroll
    for (int j = 0; j < L::kScoreCols; ++j) {
      bool attended = false;
#pragma unroll
      for (int i = 0; i < L::kRows; ++i) {
        attended = attended || p[i][j] > -kInf;
        p[i][j] = expf(p[i][j] - l_s[tile_row(i)]);
      }
      if (Laser && attended) attended_s[nt_col(j)] = 1.0f;  // racing stores of the same value
    }
    if (Laser) {
      __syncthreads();  // attended_s is complete
      shift_values<L::kK, MaxD, L::kLd>(v_s, v_s, r_s, attended_s, pr.d);
      __syncthreads();
    }
    float dp[L::kRows][L::kScoreCols] = {};  // dP = U Wᵀ
    tile_nt(dp, u_s, L::kLd, v_s, L::kLd, d4);
#pragma unroll
    for (int i = 0; i < L::kRows; ++i)
#pragma unroll
      for (int j = 0; j < L::kScoreCols; ++j)
        p_s[tile_row(i) * L::kPLd + nt_col(j)] = p[i][j] * (dp[i][j] - d_s[tile_row(i)]);
    __syncthreads();
    tile_nn(dq, p_s, L::kPLd, k_s, L::kLd, L::kK);  // dS K
  }
#pragma unroll
  for (int i = 0; i < L::kRows; ++i) {
    if (tile_row(i) >= nq) continue;
    float* dq_row = a.dq.row(b, h, q0 + tile_row(i));
#pragma unroll
    for (int j = 0; j < L::kOutCols; ++j)
      if (nn_col(j) < pr.d) dq_row[nn_col(j)] += pr.scale * dq[i][j];
  }
}

// Step 4a: each slice's flagged rows, in order, and their count (one block
// per slice, 128 rows at a time).
__global__ void __launch_bounds__(kThreads) list_flagged_rows(BackwardArgs a) {
  __shared__ int warp_counts[kWarpsPerBlock];
  const int64_t bh = blockIdx.x, Tq = a.pr.Tq;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  int64_t count = 0;
  for (int64_t i0 = 0; i0 < Tq; i0 += kThreads) {
    const int64_t i = i0 + threadIdx.x;
    const bool flagged = i < Tq && a.flags[bh * Tq + i];
    const unsigned ballot = __ballot_sync(0xffffffffu, flagged);
    if (lane == 0) warp_counts[warp] = __popc(ballot);
    __syncthreads();
    int before = 0, total = 0;
    for (int w = 0; w < kWarpsPerBlock; ++w) {
      before += w < warp ? warp_counts[w] : 0;
      total += warp_counts[w];
    }
    if (flagged) a.flagged_rows[bh * Tq + count + before + __popc(ballot & ((1u << lane) - 1))] = i;
    count += total;
    __syncthreads();  // warp_counts is reused
  }
  if (threadIdx.x == 0) a.flagged_counts[bh] = count;
}

// One lane's columns (c = lane + 32 t) of a row, 0 beyond d.
__device__ void load_lane_cols(float (&x)[kLaneCols], const float* row, int64_t d, int lane) {
#pragma unroll
  for (int t = 0; t < kLaneCols; ++t) x[t] = lane + 32 * t < d ? row[lane + 32 * t] : 0.0f;
}

// Adds one lane's columns into a row.
__device__ void add_lane_cols(float* row, const float (&x)[kLaneCols], float scale, int64_t d,
                              int lane) {
#pragma unroll
  for (int t = 0; t < kLaneCols; ++t)
    if (lane + 32 * t < d) row[lane + 32 * t] += scale * x[t];
}

// The exact path's terms for flagged row i and attended key j, over one
// lane's columns: w_c = exp(s - L + v_c - o_c) into w, and returns
// dS_ij / scale = sum_c dO_c w_c - exp(s - L) sum_c dO_c.
__device__ float exact_score_grad(const float (&o)[kLaneCols], const float (&go)[kLaneCols],
                                  const float (&vj)[kLaneCols], float sum_do, float s_minus_lse,
                                  float (&w)[kLaneCols]) {
  float weighted = 0;
#pragma unroll
  for (int t = 0; t < kLaneCols; ++t) {
    w[t] = expf(s_minus_lse + vj[t] - o[t]);
    weighted = fmaf(go[t], w[t], weighted);
  }
  return warp_sum(weighted) - expf(s_minus_lse) * sum_do;
}

__device__ float lane_dot(const float (&x)[kLaneCols], const float (&y)[kLaneCols]) {
  float dot = 0;
#pragma unroll
  for (int t = 0; t < kLaneCols; ++t) dot = fmaf(x[t], y[t], dot);
  return warp_sum(dot);
}

// Step 4b: dQ of the flagged rows, one warp each.
__global__ void __launch_bounds__(kThreads) exact_rows_dq(BackwardArgs a) {
  const Problem& pr = a.pr;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= pr.B * pr.H * pr.Tq || !a.flags[row]) return;
  const int lane = threadIdx.x % 32;
  const int64_t bh = row / pr.Tq, i = row % pr.Tq, b = bh / pr.H, h = bh % pr.H;
  float q[kLaneCols], o[kLaneCols], go[kLaneCols], kj[kLaneCols], vj[kLaneCols], w[kLaneCols];
  float dq[kLaneCols] = {};
  load_lane_cols(q, pr.q.row(b, h, i), pr.d, lane);
  load_lane_cols(o, a.out.row(b, h, i), pr.d, lane);
  load_lane_cols(go, a.grad.row(b, h, i), pr.d, lane);
  float sum_do = 0;
  for (int t = 0; t < kLaneCols; ++t) sum_do += go[t];
  sum_do = warp_sum(sum_do);
  const float lse = a.lse[row];
  const int64_t last = pr.causal ? min64(pr.Tk, i + pr.causal_offset() + 1) : pr.Tk;
  for (int64_t j = 0; j < last; ++j) {
    load_lane_cols(kj, pr.k.row(b, h, j), pr.d, lane);
    const float s = pr.score(lane_dot(q, kj), b, h, i, j) - lse;
    if (!(s > -kInf)) continue;  // masked: the same on every lane
    load_lane_cols(vj, pr.v.row(b, h, j), pr.d, lane);
    const float ds = exact_score_grad(o, go, vj, sum_do, s, w);
#pragma unroll
    for (int t = 0; t < kLaneCols; ++t) dq[t] = fmaf(ds, kj[t], dq[t]);
  }
  add_lane_cols(a.dq.row(b, h, i), dq, pr.scale, pr.d, lane);
}

// Step 4c: dK and dV from the flagged rows, one warp per key; blocks of
// slices without flagged rows return at once.
__global__ void __launch_bounds__(kThreads) exact_keys_dkdv(BackwardArgs a) {
  const Problem& pr = a.pr;
  const int64_t key_groups = (pr.Tk + kWarpsPerBlock - 1) / kWarpsPerBlock;
  const int64_t bh = blockIdx.x / key_groups, b = bh / pr.H, h = bh % pr.H;
  const int64_t j = blockIdx.x % key_groups * kWarpsPerBlock + threadIdx.x / 32;
  const int64_t n = a.flagged_counts[bh];
  if (n == 0 || j >= pr.Tk) return;
  const int lane = threadIdx.x % 32;
  float q[kLaneCols], o[kLaneCols], go[kLaneCols], kj[kLaneCols], vj[kLaneCols], w[kLaneCols];
  float dk[kLaneCols] = {}, dv[kLaneCols] = {};
  load_lane_cols(kj, pr.k.row(b, h, j), pr.d, lane);
  load_lane_cols(vj, pr.v.row(b, h, j), pr.d, lane);
  for (int64_t f = 0; f < n; ++f) {
    const int64_t i = a.flagged_rows[bh * pr.Tq + f];
    if (!pr.visible(i, j)) continue;
    load_lane_cols(q, pr.q.row(b, h, i), pr.d, lane);
    const float s = pr.score(lane_dot(q, kj), b, h, i, j) - a.lse[bh * pr.Tq + i];
    if (!(s > -kInf)) continue;
    load_lane_cols(o, a.out.row(b, h, i), pr.d, lane);
    load_lane_cols(go, a.grad.row(b, h, i), pr.d, lane);
    float sum_do = 0;
    for (int t = 0; t < kLaneCols; ++t) sum_do += go[t];
    const float ds = exact_score_grad(o, go, vj, warp_sum(sum_do), s, w);
#pragma unroll
    for (int t = 0; t < kLaneCols; ++t) {
      dv[t] = fmaf(go[t], w[t], dv[t]);
      dk[t] = fmaf(ds, q[t], dk[t]);
    }
  }
  add_lane_cols(a.dk.row(b, h, j), dk, pr.scale, pr.d, lane);
  add_lane_cols(a.dv.row(b, h, j), dv, 1.0f, pr.d, lane);
}

int grid_size(int64_t blocks, const char* op) {
  LG_CHECK(blocks <= INT_MAX, op, ": too many tiles for one CUDA grid (", blocks, ")");
  return static_cast<int>(blocks);
}

template <int MaxD, bool Laser>
void launch_tiled_backward(const BackwardArgs& a, const char* op) {
  using KB = KeyBlockLayout<MaxD, Laser>;
  using QB = QueryBlockLayout<MaxD>;
  const int64_t BH = a.pr.B * a.pr.H;
  allow_shared_memory(reinterpret_cast<const void*>(key_block_kernel<MaxD, Laser>), KB::kBytes, op);
  launch_kernel(key_block_kernel<MaxD, Laser>,
                grid_size(BH * ((a.pr.Tk + KB::kK - 1) / KB::kK), op), kThreads, KB::kBytes, a);
  allow_shared_memory(reinterpret_cast<const void*>(query_block_kernel<MaxD, Laser>), QB::kBytes,
                      op);
  launch_kernel(query_block_kernel<MaxD, Laser>,
                grid_size(BH * ((a.pr.Tq + QB::kQ - 1) / QB::kQ), op), kThreads, QB::kBytes, a);
}

void launch_exact_backward(const BackwardArgs& a, const char* op) {
  const int64_t BH = a.pr.B * a.pr.H;
  launch_kernel(list_flagged_rows, grid_size(BH, op), kThreads, 0, a);
  launch_kernel(exact_rows_dq, grid_size((BH * a.pr.Tq + kWarpsPerBlock - 1) / kWarpsPerBlock, op),
                kThreads, 0, a);
  const int64_t key_groups = (a.pr.Tk + kWarpsPerBlock - 1) / kWarpsPerBlock;
  launch_kernel(exact_keys_dkdv, grid_size(BH * key_groups, op), kThreads, 0, a);
}

}  // namespace

void attention_backward(const AttentionProblem& p, const Tensor& out, const Tensor& grad_out,
                        const Tensor& lse, const Tensor& row_max, const Tensor& flags,
                        const Tensor& dq, const Tensor& dk, const Tensor& dv) {
  const char* op = p.laser ? "laser_attention backward" : "scaled_dot_product_attention backward";
  DeviceScope scope(op, {&p.q, &p.k, &p.v, &out, &grad_out, &lse, &dq, &dk, &dv});
  check_operands(p, {&p.q, &p.k, &p.v, &out, &grad_out, &dq, &dk, &dv}, {&lse}, op);
  if (p.laser) check_operands(p, {}, {&row_max, &flags}, op);
  BackwardArgs a{};
  a.pr = make_problem(p);
  const int64_t rows = a.pr.B * a.pr.H * a.pr.Tq;
  if (rows == 0 || a.pr.Tk == 0) return;  // the gradients stay zero
  max_head_dim_for(a.pr.d, op);           // throws before any allocation
  a.out = rows_of<const float>(out);
  a.grad = rows_of<const float>(grad_out);
  a.lse = ptr<float>(lse);
  a.dq = rows_of<float>(dq);
  a.dk = rows_of<float>(dk);
  a.dv = rows_of<float>(dv);
  Tensor D = Tensor::empty({rows}, kFloat32, dq.device()), G, flagged_rows, flagged_counts;
  a.D = ptr<float>(D);
  a.up = a.grad;
  if (p.laser) {
    G = Tensor::empty({rows * a.pr.d}, kFloat32, dq.device());
    flagged_rows = Tensor::empty({rows}, kInt64, dq.device());
    flagged_counts = Tensor::empty({a.pr.B * a.pr.H}, kInt64, dq.device());
    a.row_max = ptr<float>(row_max);
    a.flags = ptr<bool>(flags);
    a.G = ptr<float>(G);
    a.up = {a.G, a.pr.H * a.pr.Tq * a.pr.d, a.pr.Tq * a.pr.d, a.pr.d};
    a.flagged_rows = ptr<int64_t>(flagged_rows);
    a.flagged_counts = ptr<int64_t>(flagged_counts);
  }
  const int row_blocks = grid_size((rows + kWarpsPerBlock - 1) / kWarpsPerBlock, op);
  if (p.laser)
    launch_kernel(prepare_rows<true>, row_blocks, kThreads, 0, a);
  else
    launch_kernel(prepare_rows<false>, row_blocks, kThreads, 0, a);
  with_max_head_dim(a.pr.d, op, [&]<int MaxD>() {
    if (p.laser)
      launch_tiled_backward<MaxD, true>(a, op);
    else
      launch_tiled_backward<MaxD, false>(a, op);
  });
  if (p.laser) launch_exact_backward(a, op);
}

}  // namespace lg::cuda::attention
