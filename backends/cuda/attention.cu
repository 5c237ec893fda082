// CUDA flash-style attention forward for softmax and LASER, float32
// (docs/laser.md; the CPU twin is backends/cpu/attention.cpp, whose contract
// and numerics these kernels follow). A block of 128 threads takes 64 queries
// of one (batch, head) slice and walks its key tiles through shared memory
// with an online softmax in registers; no Tq x Tk matrix is stored. LASER
// keeps the CPU's running column max r per query tile, turns each value tile
// into exp(V - r) on the fly, ends with O = log(acc / l) + r, and flags the
// rows with some column more than 60 below r, which a one-warp-per-row kernel
// then recomputes exactly, O_ic = logsumexp_j (s_ij - L_i + v_jc).
//
// Unlike the CPU, the GPU kernel never shifts by the slice's column max u
// (the CPU's shortcut that computes exp(V - u) once per slice): exp(V - r)
// per (query tile, key tile) costs kForwardK x d exps against 64 x kForwardK
// for P, so the running max always serves. Rows where the CPU keeps u then
// save r instead of u as their row_max; both are exact shifts, and a tile
// that keeps u has every output within 30 of u, hence within 60 of r <= u, so
// the flagged rows are the CPU's.
#include <climits>
#include <cmath>

#include "attention_tiles.cuh"

namespace lg::cuda {
namespace attention {

Problem make_problem(const AttentionProblem& p) {
  Problem pr;
  pr.B = p.q.shape()[0];
  pr.H = p.q.shape()[1];
  pr.Tq = p.q.shape()[2];
  pr.Tk = p.k.shape()[2];
  pr.d = p.q.shape()[3];
  pr.scale = static_cast<float>(p.scale);
  pr.causal = p.causal;
  pr.q = rows_of<const float>(p.q);
  pr.k = rows_of<const float>(p.k);
  pr.v = rows_of<const float>(p.v);
  if (p.mask.defined()) {
    pr.mask = ptr<float>(p.mask);
    pr.mb = p.mask.strides()[0];
    pr.mh = p.mask.strides()[1];
    pr.mq = p.mask.strides()[2];
    pr.mk = p.mask.strides()[3];
  }
  return pr;
}

int max_head_dim_for(int64_t d, const char* op) {
  LG_CHECK(d <= 256, op, ": the CUDA attention kernels take head dims up to 256, got ", d,
           " (float64 runs the composite formula)");
  return d <= 32 ? 32 : d <= 64 ? 64 : d <= 128 ? 128 : 256;
}

void allow_shared_memory(const void* kernel, size_t bytes, const char* op) {
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(bytes)),
        op, "cudaFuncSetAttribute");
}

void check_operands(const AttentionProblem& p, std::initializer_list<const Tensor*> rows,
                    std::initializer_list<const Tensor*> dense, const char* op) {
  for (const Tensor* t : rows)
    LG_CHECK(t->dtype() == kFloat32 && t->dim() == 4 && t->strides()[3] == 1, op,
             ": the CUDA kernel takes float32 [B,H,T,d] operands with unit stride along d, got ",
             t->describe());
  for (const Tensor* t : dense)
    LG_CHECK(t->is_contiguous(), op, ": the CUDA kernel expected a contiguous ", t->describe());
  LG_CHECK(!p.mask.defined() || (p.mask.dtype() == kFloat32 && p.mask.dim() == 4), op,
           ": the CUDA kernel takes a float32 mask viewed [B,H,Tq,Tk], got ", p.mask.describe());
}

}  // namespace attention

namespace {
using namespace attention;

struct ForwardArgs {
  Problem pr;
  Rows<float> out;
  float* lse;
  float* row_max;  // LASER only: [B,H,Tq,d]
  bool* flags;     // LASER only: [B,H,Tq]
};

// Shared-memory layout (in floats) and register tiles of the forward.
template <int MaxD>
struct ForwardLayout {
  static constexpr int kQ = kForwardTileQ, kK = Tiles<MaxD>::kForwardK;
  static constexpr int kLd = Tiles<MaxD>::kLd, kPLd = kK + 4;
  static constexpr int kRows = kQ / kTY, kScoreCols = kK / kTX, kOutCols = MaxD / kTX;
  static constexpr int kQOff = 0, kKOff = kQ * kLd, kVOff = kKOff + kK * kLd;
  static constexpr int kPOff = kVOff + kK * kLd, kROff = kPOff + kQ * kPLd;
  static constexpr int kScaleOff = kROff + MaxD, kAttendedOff = kScaleOff + MaxD;
  static constexpr size_t kBytes = sizeof(float) * (kAttendedOff + kK);
};

// Scores of the tile: scale * q.k + mask, -inf where masked, causal-hidden,
// or beyond the tile's queries and keys.
template <int RM, int RN>
__device__ void finish_scores(float (&s)[RM][RN], const Problem& pr, int64_t b, int64_t h,
                              int64_t q0, int nq, int64_t k0, int nk) {
#pragma unroll
  for (int i = 0; i < RM; ++i)
#pragma unroll
    for (int j = 0; j < RN; ++j) {
      const int ii = tile_row(i), jj = nt_col(j);
      const int64_t qi = q0 + ii, kj = k0 + jj;
      const bool valid = ii < nq && jj < nk && pr.visible(qi, kj);
      s[i][j] = valid ? pr.score(s[i][j], b, h, qi, kj) : -kInf;
    }
}

// Marks the tile's keys some row attends (a finite score) in attended[].
template <int RM, int RN>
__device__ void mark_attended_columns(const float (&s)[RM][RN], float* attended) {
#pragma unroll
  for (int j = 0; j < RN; ++j) {
    bool any = false;
#pragma unroll
    for (int i = 0; i < RM; ++i) any = any || s[i][j] > -kInf;
    if (any) attended[nt_col(j)] = 1.0f;  // racing stores of the same value
  }
}

// Online softmax over one key tile: s becomes exp(s - m_new), m and l are
// updated and alpha is each row's rescale of its accumulator. A row that has
// attended nothing yet keeps m = -inf, l = 0 and gets p = 0.
template <int RM, int RN>
__device__ void online_softmax(float (&s)[RM][RN], float (&m)[RM], float (&l)[RM],
                               float (&alpha)[RM]) {
#pragma unroll
  for (int i = 0; i < RM; ++i) {
    float mx = -kInf;
#pragma unroll
    for (int j = 0; j < RN; ++j) mx = fmaxf(mx, s[i][j]);
    const float m_new =
        fmaxf(m[i], row_group_reduce(mx, [](float a, float b) { return fmaxf(a, b); }));
    float sum = 0;
#pragma unroll
    for (int j = 0; j < RN; ++j) {
      s[i][j] = m_new == -kInf ? 0.0f : expf(s[i][j] - m_new);
      sum += s[i][j];
    }
    sum = row_group_reduce(sum, [](float a, float b) { return a + b; });
    alpha[i] = m_new == -kInf ? 1.0f : expf(m[i] - m_new);
    if (m_new != -kInf) {
      l[i] = l[i] * alpha[i] + sum;
      m[i] = m_new;
    }
  }
}

// LASER: raises r over this key tile's attended keys (one thread per column)
// and records each column's rescale exp(r_old - r_new) (1 where r stays).
template <int MaxD, int K, int Ld>
__device__ void raise_column_max(float* r, float* col_scale, const float* v_tile,
                                 const float* attended, int nk) {
  for (int c = threadIdx.x; c < MaxD; c += kThreads) {
    const float r_old = r[c];
    float r_new = r_old;
    for (int jj = 0; jj < nk; ++jj)
      if (attended[jj] != 0.0f && r_new < v_tile[jj * Ld + c]) r_new = v_tile[jj * Ld + c];
    col_scale[c] = r_new > r_old ? expf(r_old - r_new) : 1.0f;
    r[c] = r_new;
  }
}

// LASER: the value tile becomes E = exp(V - r), 0 for keys no row attends
// (they may exceed r; their weight is 0) and for columns beyond d.
template <int Rows_, int MaxD, int Ld>
__device__ void shift_values(float* e_tile, const float* v_tile, const float* r,
                             const float* attended, int64_t d) {
  for (int idx = threadIdx.x; idx < Rows_ * MaxD; idx += kThreads) {
    const int jj = idx / MaxD, c = idx % MaxD;
    e_tile[jj * Ld + c] = attended[jj] != 0.0f && c < d ? expf(v_tile[jj * Ld + c] - r[c]) : 0.0f;
  }
}

// Normalises the accumulator, writes out, lse and (LASER) row_max and flags.
template <int MaxD, bool Laser, int RM, int RN>
__device__ void forward_epilogue(const ForwardArgs& a, const float (&acc)[RM][RN],
                                 const float (&m)[RM], const float (&l)[RM], const float* r,
                                 int64_t b, int64_t h, int64_t q0, int nq) {
  const Problem& pr = a.pr;
  const int64_t slice_row0 = (b * pr.H + h) * pr.Tq;
#pragma unroll
  for (int i = 0; i < RM; ++i) {
    const int ii = tile_row(i);
    const bool valid = ii < nq, empty = l[i] == 0.0f;
    const int64_t row = q0 + ii;
    const float inv = 1.0f / l[i];
    bool flagged = false;
    if (valid) {
      float* orow = a.out.row(b, h, row);
#pragma unroll
      for (int j = 0; j < RN; ++j) {
        const int c = nn_col(j);
        if (c >= pr.d) continue;
        float o = empty ? 0.0f : acc[i][j] * inv;
        if (Laser && !empty) {
          o = logf(o) + r[c];
          flagged = flagged || !(r[c] - o <= kFlagGap);  // a -inf or NaN output fails too
        }
        orow[c] = o;
        if (Laser) a.row_max[(slice_row0 + row) * pr.d + c] = r[c];  // the tile's shift, every row
      }
    }
    flagged = row_group_any(flagged);
    if (valid && tile_tx() == 0) {
      a.lse[slice_row0 + row] = empty ? kInf : m[i] + logf(l[i]);
      if (Laser) a.flags[slice_row0 + row] = flagged;
    }
  }
}

template <int MaxD, bool Laser>
__global__ void __launch_bounds__(kThreads) forward_kernel(ForwardArgs a) {
  using L = ForwardLayout<MaxD>;
  extern __shared__ float4 shared_words[];
  float* sm = reinterpret_cast<float*>(shared_words);
  float *q_s = sm + L::kQOff, *k_s = sm + L::kKOff, *v_s = sm + L::kVOff, *p_s = sm + L::kPOff;
  float *r_s = sm + L::kROff, *scale_s = sm + L::kScaleOff, *attended_s = sm + L::kAttendedOff;
  const Problem& pr = a.pr;
  const QueryTile tile = query_tile<L::kQ>(pr);
  const int64_t b = tile.b, h = tile.h, q0 = tile.q0;
  const int nq = tile.nq;
  const int d4 = round_up4(pr.d);

  load_tile<L::kQ, MaxD, L::kLd>(q_s, pr.q.row(b, h, q0), pr.q.st, nq, pr.d);
  if (Laser)
    for (int c = threadIdx.x; c < MaxD; c += kThreads) r_s[c] = -kInf;
  float m[L::kRows], l[L::kRows], acc[L::kRows][L::kOutCols];
#pragma unroll
  for (int i = 0; i < L::kRows; ++i) {
    m[i] = -kInf;
    l[i] = 0;
#pragma unroll
    for (int j = 0; j < L::kOutCols; ++j) acc[i][j] = 0;
  }
  // The last key any row of this tile can see.
  const int64_t key_end = pr.causal ? min64(pr.Tk, q0 + nq + pr.causal_offset()) : pr.Tk;
  for (int64_t k0 = 0; k0 < key_end; k0 += L::kK) {
    const int nk = static_cast<int>(min64(L::kK, pr.Tk - k0));
    __syncthreads();  // the previous tile's products are done with k_s, v_s, p_s
    load_tile<L::kK, MaxD, L::kLd>(k_s, pr.k.row(b, h, k0), pr.k.st, nk, pr.d);
    load_tile<L::kK, MaxD, L::kLd>(v_s, pr.v.row(b, h, k0), pr.v.st, nk, pr.d);
    if (Laser && threadIdx.x < L::kK) attended_s[threadIdx.x] = 0.0f;
    __syncthreads();

    float s[L::kRows][L::kScoreCols] = {};
    tile_nt(s, q_s, L::kLd, k_s, L::kLd, d4);
    finish_scores(s, pr, b, h, q0, nq, k0, nk);
    if (Laser) mark_attended_columns(s, attended_s);
    float alpha[L::kRows];
    online_softmax(s, m, l, alpha);
#pragma unroll
    for (int i = 0; i < L::kRows; ++i)
#pragma unroll
      for (int j = 0; j < L::kScoreCols; ++j) p_s[tile_row(i) * L::kPLd + nt_col(j)] = s[i][j];
    if (Laser) {
      __syncthreads();  // attended_s is complete
      raise_column_max<MaxD, L::kK, L::kLd>(r_s, scale_s, v_s, attended_s, nk);
      __syncthreads();
      shift_values<L::kK, MaxD, L::kLd>(v_s, v_s, r_s, attended_s, pr.d);
    }
#pragma unroll
    for (int i = 0; i < L::kRows; ++i)
#pragma unroll
      for (int j = 0; j < L::kOutCols; ++j)
        acc[i][j] *= Laser ? alpha[i] * scale_s[nn_col(j)] : alpha[i];
    __syncthreads();  // p_s and the value tile are ready
    tile_nn(acc, p_s, L::kPLd, v_s, L::kLd, L::kK);
  }
  __syncthreads();  // r_s is final (also when no key tile ran)
  forward_epilogue<MaxD, Laser>(a, acc, m, l, r_s, b, h, q0, nq);
}

constexpr int kWarpsPerBlock = kThreads / 32;

// LASER's flagged rows, one warp each: O_c = logsumexp_j (s_j - L + v_jc)
// over the attended keys, per column (lane c, c + 32, ...), with a running
// max and sum; the other warps return at once.
__global__ void __launch_bounds__(kThreads) exact_rows_forward(ForwardArgs a) {
  const Problem& pr = a.pr;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= pr.B * pr.H * pr.Tq || !a.flags[row]) return;
  const int lane = threadIdx.x % 32;
  const int64_t bh = row / pr.Tq, i = row % pr.Tq, b = bh / pr.H, h = bh % pr.H;
  const float* qi = pr.q.row(b, h, i);
  float q[kLaneCols], mx[kLaneCols], sum[kLaneCols];
#pragma unroll
  for (int t = 0; t < kLaneCols; ++t) {
    const int64_t c = lane + 32 * t;
    q[t] = c < pr.d ? qi[c] : 0.0f;
    mx[t] = -kInf;
    sum[t] = 0;
  }
  const float lse = a.lse[row];
  const int64_t last = pr.causal ? min64(pr.Tk, i + pr.causal_offset() + 1) : pr.Tk;
  for (int64_t j = 0; j < last; ++j) {
    const float *kj = pr.k.row(b, h, j), *vj = pr.v.row(b, h, j);
    float dot = 0;
#pragma unroll
    for (int t = 0; t < kLaneCols; ++t)
      if (lane + 32 * t < pr.d) dot = fmaf(q[t], kj[lane + 32 * t], dot);
    const float sj = pr.score(warp_sum(dot), b, h, i, j) - lse;
    if (!(sj > -kInf)) continue;  // masked: the same on every lane
#pragma unroll
    for (int t = 0; t < kLaneCols; ++t) {
      if (lane + 32 * t >= pr.d) continue;
      const float x = sj + vj[lane + 32 * t];
      if (x > mx[t]) {
        sum[t] = sum[t] * expf(mx[t] - x) + 1.0f;
        mx[t] = x;
      } else {
        sum[t] += expf(x - mx[t]);
      }
    }
  }
  float* orow = a.out.row(b, h, i);
#pragma unroll
  for (int t = 0; t < kLaneCols; ++t)
    if (lane + 32 * t < pr.d) orow[lane + 32 * t] = mx[t] + logf(sum[t]);
}

template <int MaxD, bool Laser>
void launch_forward(const ForwardArgs& a, const char* op) {
  using L = ForwardLayout<MaxD>;
  const int64_t blocks = a.pr.B * a.pr.H * ((a.pr.Tq + L::kQ - 1) / L::kQ);
  LG_CHECK(blocks <= INT_MAX, op, ": too many query tiles for one CUDA grid (", blocks, ")");
  allow_shared_memory(reinterpret_cast<const void*>(forward_kernel<MaxD, Laser>), L::kBytes, op);
  launch_kernel(forward_kernel<MaxD, Laser>, static_cast<int>(blocks), kThreads, L::kBytes, a);
}

void attention_forward(const AttentionProblem& p, const Tensor& out, const Tensor& lse,
                       const Tensor& row_max, const Tensor& flags) {
  const char* op = p.laser ? "laser_attention" : "scaled_dot_product_attention";
  DeviceScope scope(op, {&p.q, &p.k, &p.v, &out, &lse});
  check_operands(p, {&p.q, &p.k, &p.v, &out}, {&lse}, op);
  if (p.laser) check_operands(p, {}, {&row_max, &flags}, op);
  const ForwardArgs a{make_problem(p), rows_of<float>(out), ptr<float>(lse),
                      p.laser ? ptr<float>(row_max) : nullptr,
                      p.laser ? ptr<bool>(flags) : nullptr};
  const int64_t rows = a.pr.B * a.pr.H * a.pr.Tq;
  if (rows == 0) return;
  with_max_head_dim(a.pr.d, op, [&]<int MaxD>() {
    if (p.laser)
      launch_forward<MaxD, true>(a, op);
    else
      launch_forward<MaxD, false>(a, op);
  });
  if (!p.laser) return;
  const int64_t blocks = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  LG_CHECK(blocks <= INT_MAX, op, ": too many rows for one CUDA grid (", rows, ")");
  launch_kernel(exact_rows_forward, static_cast<int>(blocks), kThreads, 0, a);
}

}  // namespace

void fill_attention_kernels(KernelTable& t, DType dtype) {
  if (dtype != kFloat32) return;  // float64: the composite formula (ops/attention.cpp)
  t.attention_forward = attention_forward;
  t.attention_backward = attention::attention_backward;
}

}  // namespace lg::cuda
