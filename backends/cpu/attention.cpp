// CPU flash-style attention for softmax and LASER (docs/laser.md): tiles of
// queries walk tiles of keys with an online softmax, so no Tq x Tk matrix is
// ever stored; the backward recomputes the scores tile by tile. LASER shifts
// V by the slice's column max where that keeps every output in range (one
// exp(V - u) per slice), else by a running column max per query tile, and
// recomputes exactly the rare rows that no tile-wide shift can represent.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "blas_int.h"
#include "blas_threads.h"
#include "cpu_kernels.h"
#include "strided_loop.h"
#include "vector_math.h"

namespace lg::cpu {
namespace {

constexpr int64_t kTileQ = 64;  // the backward's query tiles must equal the forward's (shared r)
constexpr int64_t kTileK = 64;

template <typename T>
constexpr T kInf = std::numeric_limits<T>::infinity();

// A row is recomputed exactly when some column sits this far below the tile's
// shift r (exp(-60) is still a normal float; the double bound is as far).
template <typename T>
constexpr T kFlagGap = std::is_same_v<T, float> ? T(60) : T(650);

// LASER without a mask: every key is attended by some row, so the column max
// u of V over all keys of a slice is a valid shift for every query tile, and
// E = exp(V - u) is computed once per slice instead of once per (query tile,
// key tile) pair. A tile keeps u when each of its outputs lies within this
// gap below u (so exp(u - O) and the accumulators stay well inside the
// float range); other tiles are redone with their own running column max.
template <typename T>
constexpr T kSharedGap = std::is_same_v<T, float> ? T(30) : T(300);

// Row-major C = alpha * op(A) op(B) + beta * C on single-threaded BLAS calls
// (OpenBLAS does not spawn threads inside our OpenMP region). Every dim is a
// tile size (<= 64) or the head dim d, which the kernels range-check with
// blas_int before their regions, so the narrowing here is exact.
template <typename T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  auto tA = ta ? CblasTrans : CblasNoTrans, tB = tb ? CblasTrans : CblasNoTrans;
  auto i = [](int64_t v) { return static_cast<blasint>(v); };
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, tA, tB, i(m), i(n), i(k), alpha, a, i(lda), b, i(ldb), beta, c,
                i(ldc));
  else
    cblas_dgemm(CblasRowMajor, tA, tB, i(m), i(n), i(k), alpha, a, i(lda), b, i(ldb), beta, c,
                i(ldc));
}

// One [B,H,T,d] operand with unit stride along d and any other strides (so
// heads can be read from a [B,T,H,d] projection without a copy): the first
// row of slice bh = b*H + h and the stride between rows.
template <typename P>
struct Rows {
  P* base = nullptr;
  int64_t sb = 0, sh = 0, st = 0, H = 1;
  Rows() = default;
  Rows(P* b, const Tensor& t)
      : base(b), sb(t.strides()[0]), sh(t.strides()[1]), st(t.strides()[2]), H(t.shape()[1]) {}
  P* at(int64_t bh) const { return base + (bh / H) * sb + (bh % H) * sh; }
};

// Index arithmetic for one (batch, head) slice of a problem. Every pointer
// and stride is read from the tensors here, before any parallel region, so
// the accessors the tiles call are plain arithmetic that cannot throw.
template <typename T>
struct Slice {
  const AttentionProblem& p;
  int64_t B, H, Tq, Tk, d;
  int64_t qs, ks, vs;  // row strides of q, k, v
  Rows<const T> q_rows, k_rows, v_rows;
  const T* mask_base;
  Shape mask_strides;
  Slice(const AttentionProblem& prob) : p(prob) {
    B = p.q.shape()[0];
    H = p.q.shape()[1];
    Tq = p.q.shape()[2];
    Tk = p.k.shape()[2];
    d = p.q.shape()[3];
    blas_int(d, "attention", "the head dim");  // every gemm's largest dim
    q_rows = Rows<const T>(ptr<T>(p.q), p.q);
    k_rows = Rows<const T>(ptr<T>(p.k), p.k);
    v_rows = Rows<const T>(ptr<T>(p.v), p.v);
    qs = q_rows.st;
    ks = k_rows.st;
    vs = v_rows.st;
    mask_base = p.mask.defined() ? ptr<T>(p.mask) : nullptr;
    mask_strides = p.mask.defined() ? p.mask.strides() : Shape(4, 0);
  }
  // Key j is visible to query i when j <= i + causal_offset (bottom-right aligned).
  int64_t causal_offset() const { return Tk - Tq; }
  const T* q(int64_t bh) const { return q_rows.at(bh); }
  const T* k(int64_t bh) const { return k_rows.at(bh); }
  const T* v(int64_t bh) const { return v_rows.at(bh); }
  // Pointer to mask[b, h, i, 0] and the stride along keys (nullptr: no mask).
  const T* mask_row(int64_t bh, int64_t i) const {
    if (!mask_base) return nullptr;
    const auto& st = mask_strides;
    return mask_base + (bh / H) * st[0] + (bh % H) * st[1] + i * st[2];
  }
  int64_t mask_key_stride() const { return mask_strides[3]; }
};

// scores[ii, jj] = scale * q_i . k_j + mask, -inf where masked or causal-hidden.
template <typename T>
void score_tile(const Slice<T>& s, int64_t bh, int64_t q0, int64_t nq, int64_t k0, int64_t nk,
                T* scores) {
  gemm<T>(false, true, nq, nk, s.d, T(s.p.scale), s.q(bh) + q0 * s.qs, s.qs, s.k(bh) + k0 * s.ks,
          s.ks, T(0), scores, kTileK);
  const int64_t ms = s.mask_key_stride();
  for (int64_t ii = 0; ii < nq; ++ii) {
    T* row = scores + ii * kTileK;
    if (const T* m = s.mask_row(bh, q0 + ii))
      for (int64_t jj = 0; jj < nk; ++jj) row[jj] += m[(k0 + jj) * ms];
    if (s.p.causal)
      for (int64_t jj = std::max<int64_t>(0, q0 + ii + s.causal_offset() + 1 - k0); jj < nk; ++jj)
        row[jj] = -kInf<T>;
  }
}

// Whether some row of the tile attends key jj (its column has a finite score).
// Without a mask, a key tile entirely visible to the tile's first row is all
// attended, which is every tile but the diagonal ones: no scan needed.
template <typename T>
void attended_keys(const Slice<T>& s, const T* scores, int64_t q0, int64_t nq, int64_t k0,
                   int64_t nk, std::vector<char>& attended) {
  const bool all_visible = !s.p.causal || k0 + nk - 1 <= q0 + s.causal_offset();
  if (!s.p.mask.defined() && all_visible) {
    attended.assign(nk, 1);
    return;
  }
  attended.assign(nk, 0);
  for (int64_t ii = 0; ii < nq; ++ii)
    for (int64_t jj = 0; jj < nk; ++jj) attended[jj] |= scores[ii * kTileK + jj] > -kInf<T>;
}

// E[jj, c] = exp(V[k0 + jj, c] - r[c]) for attended keys, 0 otherwise (an
// unattended key may exceed r, and its weight is 0 anyway).
template <typename T>
void shifted_exp_values(const T* v, int64_t vs, int64_t k0, int64_t nk, int64_t d, const T* r,
                        const std::vector<char>& attended, T* e) {
  for (int64_t jj = 0; jj < nk; ++jj) {
    T* row = e + jj * d;
    const T* vrow = v + (k0 + jj) * vs;
    if (!attended[jj]) {
      std::fill(row, row + d, T(0));
      continue;
    }
    exp_difference(row, vrow, r, d);
  }
}

// u[c] = max_j V[j, c] over the slice's keys; with eu, also eu = exp(V - u).
template <typename T>
void shared_shift(const Slice<T>& s, int64_t bh, T* u, T* eu) {
  const int64_t d = s.d, vs = s.vs;
  const T* v = s.v(bh);
  std::fill(u, u + d, -kInf<T>);
  for (int64_t j = 0; j < s.Tk; ++j)
    for (int64_t c = 0; c < d; ++c) u[c] = std::max(u[c], v[j * vs + c]);
  if (!eu) return;
  for (int64_t j = 0; j < s.Tk; ++j) exp_difference(eu + j * d, v + j * vs, u, d);
}

// Exact LASER output for one row: O_c = logsumexp_j (s_j - L + v_jc) over attended keys.
template <typename T>
void exact_laser_row(const Slice<T>& s, int64_t bh, int64_t i, T lse, T* out_row,
                     std::vector<T>& scores) {
  const int64_t d = s.d, Tk = s.Tk;
  scores.resize(Tk);
  const T* qi = s.q(bh) + i * s.qs;
  const T* m = s.mask_row(bh, i);
  const int64_t ms = s.mask_key_stride();
  int64_t last = s.p.causal ? std::min(Tk, i + s.causal_offset() + 1) : Tk;
  for (int64_t j = 0; j < Tk; ++j) {
    T dot = 0;
    for (int64_t c = 0; c < d; ++c) dot += qi[c] * s.k(bh)[j * s.ks + c];
    T sj = dot * T(s.p.scale) + (m ? m[j * ms] : T(0));
    scores[j] = j < last ? sj - lse : -kInf<T>;
  }
  const T* v = s.v(bh);
  for (int64_t c = 0; c < d; ++c) {
    T mx = -kInf<T>;
    for (int64_t j = 0; j < Tk; ++j)
      if (scores[j] > -kInf<T>) mx = std::max(mx, scores[j] + v[j * s.vs + c]);
    T sum = 0;
    for (int64_t j = 0; j < Tk; ++j)
      if (scores[j] > -kInf<T>) sum += std::exp(scores[j] + v[j * s.vs + c] - mx);
    out_row[c] = mx + std::log(sum);
  }
}

template <typename T>
void attention_forward(const AttentionProblem& p, const Tensor& out, const Tensor& lse,
                       const Tensor& row_max, const Tensor& flags) {
  const Slice<T> s(p);
  const int64_t d = s.d, Tq = s.Tq, Tk = s.Tk, BH = s.B * s.H;
  const int64_t q_tiles = (Tq + kTileQ - 1) / kTileQ;
  const int64_t tasks = BH * q_tiles;
  const Rows<T> O(ptr<T>(out), out);
  T* L = ptr<T>(lse);
  T* R = p.laser ? ptr<T>(row_max) : nullptr;
  bool* F = p.laser ? ptr<bool>(flags) : nullptr;

  const bool shared = p.laser && !p.mask.defined() && Tk > 0;
  std::vector<T> U(shared ? BH * d : 0);
  Tensor eu_t = shared ? Tensor::empty({BH, Tk, d}, dtype_of<T>(), Device::cpu()) : Tensor();
  T* EU = shared ? ptr<T>(eu_t) : nullptr;
  BlasCallGuard blas_call;
  parallel_region(team_size(tasks, 2), [&](Worker& worker) {
    // In the same parallel region as the tiles: one fork and join, not two.
    if (shared) {
      worker.for_each(0, BH, Schedule::Static, [&](int64_t bh) {
        shared_shift(s, bh, U.data() + bh * d, EU + bh * Tk * d);
      });
      worker.barrier();  // every tile reads every slice's shift
    }
    // This worker's scratch, sized at its first tile (an allocation that
    // throws must do so inside the loop, where the helper catches it).
    std::vector<T> scores, acc, e, m, l, r, r_new, col_scale, exact_scores;
    std::vector<char> attended;
    auto size_scratch = [&] {
      if (!scores.empty()) return;
      scores.resize(kTileQ * kTileK);
      acc.resize(kTileQ * d);
      e.resize(kTileK * d);
      m.resize(kTileQ);
      l.resize(kTileQ);
      r.resize(d);
      r_new.resize(d);
      col_scale.resize(d);
    };
    // One query tile; with use_shared, LASER shifts by the slice's u and gives
    // up (returns false) when a row falls more than kSharedGap below it.
    auto run_tile = [&](int64_t bh, int64_t q0, int64_t nq, bool use_shared) {
      std::fill(acc.begin(), acc.end(), T(0));
      std::fill(m.begin(), m.end(), -kInf<T>);
      std::fill(l.begin(), l.end(), T(0));
      std::fill(r.begin(), r.end(), -kInf<T>);
      // The last key any row of this tile can see.
      const int64_t key_end = p.causal ? std::min(Tk, q0 + nq + s.causal_offset()) : Tk;

      for (int64_t k0 = 0; k0 < key_end; k0 += kTileK) {
        const int64_t nk = std::min(kTileK, Tk - k0);
        score_tile(s, bh, q0, nq, k0, nk, scores.data());
        if (p.laser && !use_shared) attended_keys(s, scores.data(), q0, nq, k0, nk, attended);
        // Online softmax: rescale the rows whose running max grows.
        for (int64_t ii = 0; ii < nq; ++ii) {
          T* row = scores.data() + ii * kTileK;
          const T m_new = std::max(m[ii], max_of(row, nk));
          if (m_new == -kInf<T>) {  // nothing attended yet: keep the row empty
            std::fill(row, row + nk, T(0));
            continue;
          }
          const T alpha = std::exp(m[ii] - m_new);
          l[ii] = l[ii] * alpha + exp_shifted_sum(row, nk, m_new);
          m[ii] = m_new;
          if (alpha != T(1))
            for (int64_t c = 0; c < d; ++c) acc[ii * d + c] *= alpha;
        }
        const T* values = s.v(bh) + k0 * s.vs;
        int64_t values_ld = s.vs;
        if (p.laser && use_shared) {
          values = EU + (bh * Tk + k0) * d;
          values_ld = d;
        } else if (p.laser) {
          // Raise the running column max over this tile's attended keys, then
          // rescale each accumulator column once by exp(r_old - r_new).
          std::copy(r.begin(), r.end(), r_new.begin());
          for (int64_t jj = 0; jj < nk; ++jj) {
            if (!attended[jj]) continue;
            const T* vrow = values + jj * s.vs;
            for (int64_t c = 0; c < d; ++c) r_new[c] = std::max(r_new[c], vrow[c]);
          }
          bool raised = false;
          for (int64_t c = 0; c < d; ++c) {
            // exp(-inf) = 0 while r was -inf: acc is still 0 there.
            col_scale[c] = r_new[c] > r[c] ? std::exp(r[c] - r_new[c]) : T(1);
            raised = raised || r_new[c] > r[c];
          }
          if (raised)
            for (int64_t ii = 0; ii < nq; ++ii)
              for (int64_t c = 0; c < d; ++c) acc[ii * d + c] *= col_scale[c];
          std::swap(r, r_new);
          shifted_exp_values(s.v(bh), s.vs, k0, nk, d, r.data(), attended, e.data());
          values = e.data();
          values_ld = d;
        }
        gemm<T>(false, false, nq, d, nk, T(1), scores.data(), kTileK, values, values_ld, T(1),
                acc.data(), d);
      }

      // Epilogue: normalise; LASER takes the log and adds the shift back.
      const T* shift = use_shared ? U.data() + bh * d : r.data();
      for (int64_t ii = 0; ii < nq; ++ii) {
        const int64_t i = q0 + ii;
        T* orow = O.at(bh) + i * O.st;
        const T* arow = acc.data() + ii * d;
        // Every row keeps the tile's shift: the backward shifts the values by it.
        if (p.laser) std::copy(shift, shift + d, R + (bh * Tq + i) * d);
        if (l[ii] == T(0)) {  // no attended key: output 0, gradient 0 (lse = +inf zeroes P)
          std::fill(orow, orow + d, T(0));
          L[bh * Tq + i] = kInf<T>;
          if (p.laser) F[bh * Tq + i] = false;
          continue;
        }
        L[bh * Tq + i] = m[ii] + std::log(l[ii]);
        const T inv = T(1) / l[ii];
        for (int64_t c = 0; c < d; ++c) orow[c] = arow[c] * inv;
        if (!p.laser) continue;
        log_inplace(orow, d);
        // Branch-free over the row, so that the loop vectorises: a -inf or NaN
        // output makes its gap fail both tests (!(gap <= x) holds for NaN).
        int beyond_shared = 0, flagged = 0;
        for (int64_t c = 0; c < d; ++c) {
          orow[c] += shift[c];
          const T gap = shift[c] - orow[c];
          beyond_shared |= !(gap <= kSharedGap<T>);
          flagged |= !(gap <= kFlagGap<T>);
        }
        if (use_shared && beyond_shared) return false;
        F[bh * Tq + i] = flagged != 0;
        if (flagged) exact_laser_row(s, bh, i, L[bh * Tq + i], orow, exact_scores);
      }
      return true;
    };
    auto run_task = [&](int64_t task) {
      size_scratch();
      const int64_t bh = task / q_tiles, q0 = (task % q_tiles) * kTileQ;
      const int64_t nq = std::min(kTileQ, Tq - q0);
      if (!run_tile(bh, q0, nq, shared)) run_tile(bh, q0, nq, false);
    };
    worker.for_each(0, tasks, Schedule::Dynamic, run_task);
  });
}

// Exact LASER backward for one flagged row (docs/laser.md): with
// W_jc = exp(s_j - L + v_jc - O_c), dV_jc += dO_c W_jc and
// dS_j = sum_c dO_c W_jc - A_j sum_c dO_c, then dQ and dK from dS.
template <typename T>
void exact_laser_row_backward(const Slice<T>& s, int64_t bh, int64_t i, T lse, const T* o_row,
                              const T* do_row, T* dq, int64_t dqs, T* dk, int64_t dks, T* dv,
                              int64_t dvs, std::vector<T>& scores) {
  const int64_t d = s.d, Tk = s.Tk;
  const T scale = T(s.p.scale);
  scores.resize(Tk);
  const T* qi = s.q(bh) + i * s.qs;
  const T* k = s.k(bh);
  const T* v = s.v(bh);
  const int64_t ks = s.ks, vs = s.vs;
  const T* m = s.mask_row(bh, i);
  const int64_t ms = s.mask_key_stride();
  const int64_t last = s.p.causal ? std::min(Tk, i + s.causal_offset() + 1) : Tk;
  T sum_do = 0;
  for (int64_t c = 0; c < d; ++c) sum_do += do_row[c];
  for (int64_t j = 0; j < last; ++j) {
    T dot = 0;
    for (int64_t c = 0; c < d; ++c) dot += qi[c] * k[j * ks + c];
    const T sj = dot * scale + (m ? m[j * ms] : T(0)) - lse;
    if (!(sj > -kInf<T>)) continue;
    T weighted = 0;
    for (int64_t c = 0; c < d; ++c) {
      const T w = std::exp(sj + v[j * vs + c] - o_row[c]);
      weighted += do_row[c] * w;
      dv[j * dvs + c] += do_row[c] * w;
    }
    const T ds = (weighted - std::exp(sj) * sum_do) * scale;
    for (int64_t c = 0; c < d; ++c) {
      dq[i * dqs + c] += ds * k[j * ks + c];
      dk[j * dks + c] += ds * qi[c];
    }
  }
}

// How many chunks of consecutive key tiles the backward splits each slice
// into. One on one thread, with kBackwardTasksPerThread slices per thread or
// more, or when the slices divide evenly among the threads (equal slices,
// equal shares: chunking would only add the dQ reduce, about 3% at B1 H2 on
// 2 threads): a slice is then one task, exactly the unchunked backward. With
// fewer slices, enough chunks for that many tasks per thread, twice as many
// when causal (a causal chunk costs more the earlier its keys, as more
// queries see them, and the dynamic schedule evens that out only with enough
// tasks), never more than key tiles.
constexpr int64_t kBackwardTasksPerThread = 4;

inline int64_t backward_key_chunks(int64_t slices, int64_t key_tiles, int threads, bool causal) {
  if (threads <= 1 || slices >= kBackwardTasksPerThread * threads || slices % threads == 0)
    return 1;
  const int64_t want = kBackwardTasksPerThread * threads * (causal ? 2 : 1);
  const int64_t chunks = (want + slices - 1) / std::max<int64_t>(slices, 1);
  return std::clamp<int64_t>(chunks, 1, std::max<int64_t>(key_tiles, 1));
}

template <typename T>
void attention_backward(const AttentionProblem& p, const Tensor& out, const Tensor& grad_out,
                        const Tensor& lse, const Tensor& row_max, const Tensor& flags,
                        const Tensor& dq_t, const Tensor& dk_t, const Tensor& dv_t) {
  const Slice<T> s(p);
  const int64_t d = s.d, Tq = s.Tq, Tk = s.Tk, BH = s.B * s.H;
  const T scale = T(p.scale);
  const Rows<const T> O(ptr<T>(out), out), dO(ptr<T>(grad_out), grad_out);
  const T* L = ptr<T>(lse);
  const T* R = p.laser ? ptr<T>(row_max) : nullptr;
  const bool* F = p.laser ? ptr<bool>(flags) : nullptr;

  const bool shared = p.laser && !p.mask.defined() && Tk > 0;
  const int64_t q_tiles = (Tq + kTileQ - 1) / kTileQ;
  const int64_t key_tiles = (Tk + kTileK - 1) / kTileK;

  // Tasks are (key chunk c, slice bh), chunk-major so that the dynamic
  // schedule starts the causal backward's costlier early chunks first. Each
  // writes only its own keys' rows of dK and dV; dQ sums over the chunks, so
  // chunk 0 adds into dQ and chunk c > 0 into its own zeroed buffer of the
  // query rows that see its keys, summed into dQ in chunk order (the same
  // result whatever the schedule). Memory: those buffers hold at most
  // (chunks - 1) * BH < 8 * threads slices' dQ (4 * threads without causal),
  // and the preludes below fewer than 4 * threads slices' G: bounded by the
  // team, not by B * H, and nothing once the slices alone fill the team.
  const int64_t chunks = backward_key_chunks(BH, key_tiles, team_size(BH * key_tiles, 2), p.causal);
  const int64_t tasks = BH * chunks;
  const bool chunked = chunks > 1;
  auto chunk_keys = [&](int64_t c) {
    return std::pair<int64_t, int64_t>{c * key_tiles / chunks * kTileK,
                                       std::min(Tk, (c + 1) * key_tiles / chunks * kTileK)};
  };
  // The first query of the first query tile (aligned as in the forward) that sees key k0.
  auto first_query_tile = [&](int64_t k0) {
    return p.causal ? std::max<int64_t>(0, k0 - s.causal_offset()) / kTileQ * kTileQ : 0;
  };
  // Chunk c > 0's rows [first_row[c], Tq) of slice bh start at
  // partial + bh * partial_slice + partial_offset[c]; first_row grows with c.
  std::vector<int64_t> first_row(chunks), partial_offset(chunks, 0);
  int64_t partial_slice = 0;
  for (int64_t c = 0; c < chunks; ++c) {
    first_row[c] = first_query_tile(chunk_keys(c).first);
    if (c == 0) continue;
    partial_offset[c] = partial_slice;
    partial_slice += (Tq - first_row[c]) * d;
  }
  // Chunked, the slices' preludes (u, which tiles share it, D and G) are
  // computed once, in a phase of their own, not by every chunk: recomputed,
  // that pass over V, O and dO made the LASER backward at T = 4096 with 64
  // one-tile chunks 1.5x slower than one chunk, once per slice 1.1x (one
  // thread, measured). The buffers come from the caching allocator: fresh
  // pages for every backward cost a page fault per 4 KiB, a quarter of the
  // softmax backward at T = 4096 with 16 chunks.
  Tensor partial_t, g_t;
  std::vector<T> U_all, D_all;
  std::vector<char> shared_all;
  if (chunked) {
    partial_t = Tensor::empty({BH * partial_slice}, dtype_of<T>(), Device::cpu());
    if (p.laser) g_t = Tensor::empty({BH * Tq * d}, dtype_of<T>(), Device::cpu());
    U_all.resize(shared ? BH * d : 0);
    D_all.resize(BH * Tq);
    shared_all.resize(BH * q_tiles);
  }
  T* partial = chunked ? ptr<T>(partial_t) : nullptr;
  T* G_all = chunked && p.laser ? ptr<T>(g_t) : nullptr;
  const bool exact_phase =
      chunked && p.laser && std::any_of(F, F + BH * Tq, [](bool f) { return f; });

  BlasCallGuard blas_call;
  const Rows<T> DQ(ptr<T>(dq_t), dq_t), DK(ptr<T>(dk_t), dk_t), DV(ptr<T>(dv_t), dv_t);
  const int64_t os = O.st, gos = dO.st, dqs = DQ.st, dks = DK.st, dvs = DV.st;

  // Slice bh's prelude: its shared shift u, which query tiles take it (the
  // forward's test), then D and G for their rows (D, G: the slice's row 0).
  // Rows before first_row[0] see no key at all (causal, Tq > Tk): skipped.
  auto slice_prelude = [&](int64_t bh, T* u, char* tile_shared, T* D, T* g) {
    const T* o = O.at(bh);
    const T* go = dO.at(bh);
    if (shared) shared_shift(s, bh, u, static_cast<T*>(nullptr));
    for (int64_t t = first_row[0] / kTileQ; t < q_tiles; ++t) {
      const int64_t i_end = std::min(Tq, (t + 1) * kTileQ);
      int beyond = 0;  // branch-free rows, so that they vectorise
      if (shared)
        for (int64_t i = t * kTileQ; i < i_end && !beyond; ++i) {
          if (F[bh * Tq + i] || !(L[bh * Tq + i] < kInf<T>)) continue;  // their G is 0
          for (int64_t c = 0; c < d; ++c) beyond |= !(u[c] - o[i * os + c] <= kSharedGap<T>);
        }
      tile_shared[t] = shared && !beyond;
      // D_i = sum_j P_ij dP_ij: rowsum(dO * O) for softmax, rowsum(dO) for LASER,
      // whose upstream gradient through Y = exp(O - r) is G = dO exp(r - O).
      for (int64_t i = t * kTileQ; i < i_end; ++i) {
        const T* orow = o + i * os;
        const T* grow = go + i * gos;
        T acc = 0;
        if (!p.laser) {
          for (int64_t c = 0; c < d; ++c) acc += grow[c] * orow[c];
          D[i] = acc;
          continue;
        }
        T* gi = g + i * d;
        if (F[bh * Tq + i] || !(L[bh * Tq + i] < kInf<T>)) {  // exact path or no attended key
          std::fill(gi, gi + d, T(0));
          D[i] = 0;
          continue;
        }
        const T* r = tile_shared[t] ? u : R + (bh * Tq + i) * d;
        for (int64_t c = 0; c < d; ++c) acc += grow[c];
        exp_difference(gi, r, orow, d);
        for (int64_t c = 0; c < d; ++c) gi[c] *= grow[c];
        D[i] = acc;
      }
    }
  };

  parallel_region(team_size(tasks, 2), [&](Worker& worker) {
    // This worker's scratch, sized at its first task (an allocation that
    // throws must do so inside the loop, where the helper catches it).
    std::vector<T> prob, dprob, e, de, g, D, u, eu, de_sum, exact_scores;
    std::vector<char> attended, tile_shared;
    auto size_scratch = [&] {
      if (!prob.empty()) return;
      prob.resize(kTileQ * kTileK);
      dprob.resize(kTileQ * kTileK);
      e.resize(kTileK * d);
      de.resize(kTileK * d);
      eu.resize(kTileK * d);
      de_sum.resize(kTileK * d);
      if (chunked) return;  // the preludes' arrays are the slices'
      g.resize(p.laser ? Tq * d : 0);
      D.resize(Tq);
      u.resize(d);
      tile_shared.resize(q_tiles);
    };
    auto exact_rows = [&](int64_t bh) {
      for (int64_t i = 0; i < Tq; ++i)
        if (F[bh * Tq + i])
          exact_laser_row_backward(s, bh, i, L[bh * Tq + i], O.at(bh) + i * os, dO.at(bh) + i * gos,
                                   DQ.at(bh), dqs, DK.at(bh), dks, DV.at(bh), dvs, exact_scores);
    };
    if (chunked) {
      worker.for_each(0, BH, Schedule::Dynamic, [&](int64_t bh) {
        slice_prelude(bh, shared ? U_all.data() + bh * d : nullptr,
                      shared_all.data() + bh * q_tiles, D_all.data() + bh * Tq,
                      p.laser ? G_all + bh * Tq * d : nullptr);
      });
      worker.barrier();  // every chunk reads its slice's prelude
    }
    auto chunk_backward = [&](int64_t task) {
      size_scratch();
      const int64_t chunk = task / BH, bh = task % BH;
      const auto [k_begin, k_end] = chunk_keys(chunk);
      const int64_t q_begin = first_row[chunk];  // earlier rows see none of the chunk's keys
      const T* go = dO.at(bh);
      T* dk = DK.at(bh);
      T* dv = DV.at(bh);
      // dQ's rows from q_begin on: dQ itself for chunk 0, else this task's buffer.
      T* dq = DQ.at(bh) + q_begin * dqs;
      int64_t dq_ld = dqs;
      if (chunk > 0) {
        dq = partial + bh * partial_slice + partial_offset[chunk];
        dq_ld = d;
        std::fill(dq, dq + (Tq - q_begin) * d, T(0));
      }
      // The slice's prelude: this worker's own unchunked, else the slice's.
      if (!chunked) slice_prelude(bh, u.data(), tile_shared.data(), D.data(), g.data());
      const T* U = !chunked ? u.data() : shared ? U_all.data() + bh * d : nullptr;
      const char* uses_u = chunked ? shared_all.data() + bh * q_tiles : tile_shared.data();
      const T* Ds = chunked ? D_all.data() + bh * Tq : D.data();
      const T* gs = !chunked ? g.data() : p.laser ? G_all + bh * Tq * d : nullptr;
      bool any_shared = false;
      for (int64_t t = q_begin / kTileQ; t < q_tiles; ++t) any_shared = any_shared || uses_u[t];

      for (int64_t k0 = k_begin; k0 < k_end; k0 += kTileK) {
        const int64_t nk = std::min(kTileK, Tk - k0);
        // Shared-shift tiles: dV = EU ⊙ sum over tiles of Pᵀ G, one product per key tile.
        if (any_shared) {
          for (int64_t jj = 0; jj < nk; ++jj)
            exp_difference(eu.data() + jj * d, s.v(bh) + (k0 + jj) * s.vs, U, d);
          std::fill(de_sum.begin(), de_sum.begin() + nk * d, T(0));
        }
        // Query tiles (aligned as in the forward) with a row that can see this key tile.
        for (int64_t q0 = first_query_tile(k0); q0 < Tq; q0 += kTileQ) {
          const int64_t nq = std::min(kTileQ, Tq - q0);
          T* P = prob.data();
          score_tile(s, bh, q0, nq, k0, nk, P);
          const bool tile_uses_u = uses_u[q0 / kTileQ];
          if (p.laser && !tile_uses_u) attended_keys(s, P, q0, nq, k0, nk, attended);
          for (int64_t ii = 0; ii < nq; ++ii)  // P = exp(S - L), row by row (the sums unused)
            exp_shifted_sum(P + ii * kTileK, nk, L[bh * Tq + q0 + ii]);
          T* dP = dprob.data();
          if (tile_uses_u) {
            const T* gi = gs + q0 * d;
            gemm<T>(true, false, nk, d, nq, T(1), P, kTileK, gi, d, T(1), de_sum.data(), d);
            gemm<T>(false, true, nq, nk, d, T(1), gi, d, eu.data(), d, T(0), dP, kTileK);
          } else if (p.laser) {
            const T* gi = gs + q0 * d;
            shifted_exp_values(s.v(bh), s.vs, k0, nk, d, R + (bh * Tq + q0) * d, attended,
                               e.data());
            gemm<T>(true, false, nk, d, nq, T(1), P, kTileK, gi, d, T(0), de.data(), d);
            for (int64_t jj = 0; jj < nk; ++jj)
              multiply_add(dv + (k0 + jj) * dvs, e.data() + jj * d, de.data() + jj * d, d);
            gemm<T>(false, true, nq, nk, d, T(1), gi, d, e.data(), d, T(0), dP, kTileK);
          } else {
            gemm<T>(true, false, nk, d, nq, T(1), P, kTileK, go + q0 * gos, gos, T(1),
                    dv + k0 * dvs, dvs);
            gemm<T>(false, true, nq, nk, d, T(1), go + q0 * gos, gos, s.v(bh) + k0 * s.vs, s.vs,
                    T(0), dP, kTileK);
          }
          for (int64_t ii = 0; ii < nq; ++ii)
            softmax_grad_row(dP + ii * kTileK, P + ii * kTileK, nk, Ds[q0 + ii]);
          gemm<T>(false, false, nq, d, nk, scale, dP, kTileK, s.k(bh) + k0 * s.ks, s.ks, T(1),
                  dq + (q0 - q_begin) * dq_ld, dq_ld);
          gemm<T>(true, false, nk, d, nq, scale, dP, kTileK, s.q(bh) + q0 * s.qs, s.qs, T(1),
                  dk + k0 * dks, dks);
        }
        if (any_shared)
          for (int64_t jj = 0; jj < nk; ++jj)
            multiply_add(dv + (k0 + jj) * dvs, eu.data() + jj * d, de_sum.data() + jj * d, d);
      }
      if (p.laser && !chunked) exact_rows(bh);
    };
    worker.for_each(0, tasks, Schedule::Dynamic, chunk_backward);
    if (!chunked) return;

    worker.barrier();  // every chunk's dQ buffer is complete
    worker.for_each(0, BH * q_tiles, Schedule::Dynamic, [&](int64_t t) {
      const int64_t bh = t / q_tiles, q0 = t % q_tiles * kTileQ;
      const int64_t nq = std::min(kTileQ, Tq - q0);
      T* dq = DQ.at(bh) + q0 * dqs;
      for (int64_t chunk = 1; chunk < chunks && first_row[chunk] <= q0; ++chunk) {
        const T* part =
            partial + bh * partial_slice + partial_offset[chunk] + (q0 - first_row[chunk]) * d;
        for (int64_t ii = 0; ii < nq; ++ii)
          for (int64_t c = 0; c < d; ++c) dq[ii * dqs + c] += part[ii * d + c];
      }
    });
    if (!exact_phase) return;
    // Flagged rows write dQ, dK and dV across all of a slice's keys: once per
    // slice, after every chunk and the dQ sum.
    worker.barrier();
    worker.for_each(0, BH, Schedule::Dynamic, exact_rows);
  });
}

}  // namespace

void fill_attention_kernels(KernelTable& t, DType dtype) {
  if (dtype == kFloat32) {
    t.attention_forward = attention_forward<float>;
    t.attention_backward = attention_backward<float>;
  } else if (dtype == kFloat64) {
    t.attention_forward = attention_forward<double>;
    t.attention_backward = attention_backward<double>;
  }
}

}  // namespace lg::cpu
