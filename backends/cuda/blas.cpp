// CUDA matrix products on cuBLAS (sgemm/dgemm, strided batched). cuBLAS is
// column-major: a row-major product C = A B is computed as C^T = B^T A^T, and
// operands are passed transposed or not as their strides allow, as on the CPU.
#include <cublas_v2.h>
#include <dlfcn.h>

#include <algorithm>
#include <climits>
#include <string>
#include <type_traits>

#include "../matrix_layout.h"
#include "cuda_internal.h"

namespace lg::cuda {
namespace {

// cuBLAS is loaded on the first product, not linked: loading it (its Lt part
// is over 500 MB) costs about a second at the start of every program, with a
// GPU or without, matmul or not.
struct Cublas {
  decltype(&cublasCreate) create;
  decltype(&cublasDestroy) destroy;
  decltype(&cublasSgemmStridedBatched) sgemm_strided_batched;
  decltype(&cublasDgemmStridedBatched) dgemm_strided_batched;
  decltype(&cublasGetStatusString) status_string;
};

const Cublas& cublas() {
  static const Cublas api = [] {
    // By soname first (the loader's paths), then in the toolkit this was built with.
    const std::string soname = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
    void* lib = dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) lib = dlopen((LG_CUDA_LIBRARY_DIR "/" + soname).c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char* why = dlerror();
      detail::fail("matmul: cannot load cuBLAS (", soname, "): ", why ? why : "unknown error");
    }
    auto symbol = [&](const char* name) {
      void* p = dlsym(lib, name);
      LG_CHECK(p != nullptr, "matmul: ", soname, " has no symbol ", name);
      return p;
    };
    return Cublas{
        reinterpret_cast<decltype(Cublas::create)>(symbol("cublasCreate_v2")),
        reinterpret_cast<decltype(Cublas::destroy)>(symbol("cublasDestroy_v2")),
        reinterpret_cast<decltype(Cublas::sgemm_strided_batched)>(
            symbol("cublasSgemmStridedBatched")),
        reinterpret_cast<decltype(Cublas::dgemm_strided_batched)>(
            symbol("cublasDgemmStridedBatched")),
        reinterpret_cast<decltype(Cublas::status_string)>(symbol("cublasGetStatusString"))};
  }();
  return api;
}

void check_cublas(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS)
    detail::fail("matmul: ", call, " failed: ", cublas().status_string(status));
}

// cuBLAS handles must not be used by two host threads at once: one per thread,
// created on first use (on cuda:0, current inside the kernel's DeviceScope).
cublasHandle_t blas_handle() {
  struct Handle {
    cublasHandle_t handle = nullptr;
    ~Handle() {
      // At thread exit there is no one to report a failure to.
      if (handle) cublas().destroy(handle);
    }
  };
  thread_local Handle h;
  if (!h.handle) check_cublas(cublas().create(&h.handle), "cublasCreate");
  return h.handle;
}

// cuBLAS sees the column-major transpose of each row-major operand.
cublasOperation_t op(const MatrixOperand& m) { return m.transposed ? CUBLAS_OP_T : CUBLAS_OP_N; }

int to_int(int64_t v, const char* what) {
  LG_CHECK(v >= 0 && v <= INT_MAX, "matmul: ", what, " ", v,
           " exceeds cuBLAS's 32-bit sizes on cuda");
  return static_cast<int>(v);
}

template <typename T>
void matmul(const Tensor& out, const Tensor& a_in, const Tensor& b_in) {
  DeviceScope scope("matmul", {&out, &a_in, &b_in});
  const DType dtype = dtype_of<T>();
  LG_CHECK(out.dtype() == dtype && a_in.dtype() == dtype && b_in.dtype() == dtype &&
               out.dim() == 3 && a_in.dim() == 3 && b_in.dim() == 3 && out.is_contiguous() &&
               a_in.shape()[0] == out.shape()[0] && b_in.shape()[0] == out.shape()[0] &&
               a_in.shape()[1] == out.shape()[1] && b_in.shape()[2] == out.shape()[2] &&
               a_in.shape()[2] == b_in.shape()[1],
           "matmul: CUDA kernel expected [B,M,K] @ [B,K,N] -> contiguous [B,M,N], got ",
           a_in.describe(), " @ ", b_in.describe(), " -> ", out.describe());
  const int64_t B = out.shape()[0], M = out.shape()[1], N = out.shape()[2];
  const int64_t K = a_in.shape()[2];
  if (B * M * N == 0) return;
  T* c = ptr<T>(out);
  if (K == 0) {
    check(cudaMemsetAsync(c, 0, static_cast<size_t>(B * M * N) * sizeof(T)), "matmul",
          "cudaMemsetAsync");
    return;
  }
  auto la = matrix_operand(M, K, a_in.strides()[1], a_in.strides()[2]);
  auto lb = matrix_operand(K, N, b_in.strides()[1], b_in.strides()[2]);
  Tensor a = la ? a_in : contiguous_copy(a_in);
  Tensor b = lb ? b_in : contiguous_copy(b_in);
  if (!la) la = matrix_operand(M, K, K, 1);
  if (!lb) lb = matrix_operand(K, N, N, 1);

  const int m = to_int(N, "size"), n = to_int(M, "size"), k = to_int(K, "size");
  const int batch = to_int(B, "batch size");
  const int ld_a = to_int(la->ld, "leading dimension"), ld_b = to_int(lb->ld, "leading dimension");
  const T alpha = 1, beta = 0;
  cublasHandle_t handle = blas_handle();
  if constexpr (std::is_same_v<T, float>) {
    check_cublas(cublas().sgemm_strided_batched(handle, op(*lb), op(*la), m, n, k, &alpha, ptr<T>(b),
                                                ld_b, b.strides()[0], ptr<T>(a), ld_a,
                                                a.strides()[0], &beta, c, m, M * N, batch),
                 "cublasSgemmStridedBatched");
  } else {
    check_cublas(cublas().dgemm_strided_batched(handle, op(*lb), op(*la), m, n, k, &alpha, ptr<T>(b),
                                                ld_b, b.strides()[0], ptr<T>(a), ld_a,
                                                a.strides()[0], &beta, c, m, M * N, batch),
                 "cublasDgemmStridedBatched");
  }
}

}  // namespace

void fill_blas_kernels(KernelTable& t, DType dtype) {
  if (dtype == kFloat32) t.matmul = matmul<float>;
  if (dtype == kFloat64) t.matmul = matmul<double>;
}

}  // namespace lg::cuda
