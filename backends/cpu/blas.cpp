// CPU matrix products on OpenBLAS (OpenMP build). Operands are passed to
// sgemm/dgemm as they are, transposed or not, whenever their strides allow;
// only a matrix with no unit stride is copied first.
#include <cblas.h>

#include "../matrix_layout.h"
#include "blas_int.h"
#include "blas_threads.h"
#include "cpu_kernels.h"
#include "strided_loop.h"

namespace lg::cpu {
namespace {

// The dims and leading dims of one product, range-checked for cblas once
// per kernel call (before any parallel region).
struct GemmDims {
  blasint M, N, K, lda, ldb, ldc;
  GemmDims(const char* op, int64_t m, int64_t n, int64_t k, int64_t a_ld, int64_t b_ld,
           int64_t c_ld)
      : M(blas_int(m, op, "M")),
        N(blas_int(n, op, "N")),
        K(blas_int(k, op, "K")),
        lda(blas_int(a_ld, op, "the leading dimension of A")),
        ldb(blas_int(b_ld, op, "the leading dimension of B")),
        ldc(blas_int(c_ld, op, "the leading dimension of C")) {}
};

// C = A B (beta 0) or C += A B (beta 1).
template <typename T>
void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, const GemmDims& g, const T* A, const T* B, T* C,
          T beta = T(0)) {
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, ta, tb, g.M, g.N, g.K, 1.0f, A, g.lda, B, g.ldb, beta, C, g.ldc);
  } else {
    cblas_dgemm(CblasRowMajor, ta, tb, g.M, g.N, g.K, 1.0, A, g.lda, B, g.ldb, beta, C, g.ldc);
  }
}

template <typename T>
void matmul(const Tensor& out, const Tensor& a_in, const Tensor& b_in) {
  const int64_t B = out.shape()[0], M = out.shape()[1], N = out.shape()[2];
  const int64_t K = a_in.shape()[2];
  if (B * M * N == 0) return;
  T* c = ptr<T>(out);
  if (K == 0) {
    std::fill(c, c + B * M * N, T(0));
    return;
  }
  auto la = matrix_operand(M, K, a_in.strides()[1], a_in.strides()[2]);
  auto lb = matrix_operand(K, N, b_in.strides()[1], b_in.strides()[2]);
  Tensor a = la ? a_in : contiguous_copy(a_in);
  Tensor b = lb ? b_in : contiguous_copy(b_in);
  if (!la) la = matrix_operand(M, K, K, 1);
  if (!lb) lb = matrix_operand(K, N, N, 1);
  const T* pa = ptr<T>(a);
  const T* pb = ptr<T>(b);
  const int64_t sa = a.strides()[0], sb = b.strides()[0];
  const CBLAS_TRANSPOSE ta = la->transposed ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE tb = lb->transposed ? CblasTrans : CblasNoTrans;
  const GemmDims dims("matmul", M, N, K, la->ld, lb->ld, N);
  BlasCallGuard blas_call;
  auto product = [&](int64_t i) { gemm<T>(ta, tb, dims, pa + i * sa, pb + i * sb, c + i * M * N); };
  // Many small products, or at least two per thread: one product per thread
  // (OpenBLAS runs single-threaded inside an OpenMP region), which beats
  // OpenBLAS's own threading by 15-20% on conv's per-sample products. Few
  // large ones: let OpenBLAS thread each, called from outside any parallel
  // region: inside even an inactive one (`if (false)`) its threads form a
  // nested team, and a 2-thread step spent most of its backward waiting in
  // libgomp.
  const int64_t threads = omp_get_max_threads();
  if (B > 1 && (M * N * K < 64 * 64 * 64 || (threads > 1 && B >= 2 * threads))) {
    parallel_for(0, B, 2, [&](int64_t i) { product(i); });
  } else {
    for (int64_t i = 0; i < B; ++i) product(i);
  }
}

// The bias is written into every row of out first and the product added to it
// (beta 1): that fill replaces the zeroing a beta-0 GEMM does, so the bias
// costs no extra pass over the output.
template <typename T>
void linear(const Tensor& out, const Tensor& x_in, const Tensor& w_in, const Tensor& bias) {
  const int64_t M = out.shape()[0], N = out.shape()[1], K = x_in.shape()[1];
  if (M * N == 0) return;
  T* c = ptr<T>(out);
  T beta = T(0);
  if (bias.defined()) {
    Tensor b = contiguous_copy(bias);
    const T* pb = ptr<T>(b);
    parallel_for(0, M, grain_for(N, kParallelGrain + 1),
                 [&](int64_t i) { std::copy(pb, pb + N, c + i * N); });
    beta = T(1);
  } else if (K == 0) {
    std::fill(c, c + M * N, T(0));
  }
  if (K == 0) return;
  // weight [N,K] read as weightᵀ [K,N].
  auto lx = matrix_operand(M, K, x_in.strides()[0], x_in.strides()[1]);
  auto lw = matrix_operand(K, N, w_in.strides()[1], w_in.strides()[0]);
  Tensor x = lx ? x_in : contiguous_copy(x_in);
  Tensor w = lw ? w_in : contiguous_copy(w_in);
  if (!lx) lx = matrix_operand(M, K, K, 1);
  if (!lw) lw = matrix_operand(K, N, 1, K);
  const GemmDims dims("linear", M, N, K, lx->ld, lw->ld, N);
  BlasCallGuard blas_call;
  gemm<T>(lx->transposed ? CblasTrans : CblasNoTrans, lw->transposed ? CblasTrans : CblasNoTrans,
          dims, ptr<T>(x), ptr<T>(w), c, beta);
}

}  // namespace

void fill_blas_kernels(KernelTable& t, DType dtype) {
  if (dtype == kFloat32) {
    t.matmul = matmul<float>;
    t.linear = linear<float>;
  }
  if (dtype == kFloat64) {
    t.matmul = matmul<double>;
    t.linear = linear<double>;
  }
}

}  // namespace lg::cpu
