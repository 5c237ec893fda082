// CUDA matrix products on cuBLAS (sgemm/dgemm, strided batched; float32 in
// TF32 when lg::allow_tf32()): matmul and linear. cuBLAS is
// column-major: a row-major product C = A B is computed as C^T = B^T A^T, and
// operands are passed transposed or not as their strides allow, as on the CPU.
#include <cublas_v2.h>
#include <dlfcn.h>
#include <lasergrad/runtime.h>

#include <algorithm>
#include <array>
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
  decltype(&cublasSetStream) set_stream;
  decltype(&cublasSgemmStridedBatched) sgemm_strided_batched;
  decltype(&cublasDgemmStridedBatched) dgemm_strided_batched;
  // cublasGemmStridedBatchedEx (cublas_api.h also declares an inline overload).
  cublasStatus_t (*gemm_strided_batched_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t,
                                            int, int, int, const void*, const void*, cudaDataType,
                                            int, long long, const void*, cudaDataType, int,
                                            long long, const void*, void*, cudaDataType, int,
                                            long long, int, cublasComputeType_t, cublasGemmAlgo_t);
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
      detail::fail("matmul/linear: cannot load cuBLAS (", soname,
                   "): ", why ? why : "unknown error");
    }
    auto symbol = [&](const char* name) {
      void* p = dlsym(lib, name);
      LG_CHECK(p != nullptr, "matmul/linear: ", soname, " has no symbol ", name);
      return p;
    };
    return Cublas{
        reinterpret_cast<decltype(Cublas::create)>(symbol("cublasCreate_v2")),
        reinterpret_cast<decltype(Cublas::destroy)>(symbol("cublasDestroy_v2")),
        reinterpret_cast<decltype(Cublas::set_stream)>(symbol("cublasSetStream_v2")),
        reinterpret_cast<decltype(Cublas::sgemm_strided_batched)>(
            symbol("cublasSgemmStridedBatched")),
        reinterpret_cast<decltype(Cublas::dgemm_strided_batched)>(
            symbol("cublasDgemmStridedBatched")),
        reinterpret_cast<decltype(Cublas::gemm_strided_batched_ex)>(
            symbol("cublasGemmStridedBatchedEx")),
        reinterpret_cast<decltype(Cublas::status_string)>(symbol("cublasGetStatusString"))};
  }();
  return api;
}

void check_cublas(cublasStatus_t status, const char* op, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS)
    detail::fail(op, ": ", call, " failed: ", cublas().status_string(status));
}

// cuBLAS handles must not be used by two host threads at once, and a handle
// belongs to the device current at its creation: one per thread and device,
// created on first use inside the kernel's DeviceScope and bound to that
// device's stream, so products queue behind the kernels that feed them.
cublasHandle_t blas_handle(const char* op) {
  struct Handles {
    std::array<cublasHandle_t, kMaxDevicesPerType> handle{};
    ~Handles() {
      // At thread exit there is no one to report a failure to.
      for (cublasHandle_t h : handle)
        if (h) cublas().destroy(h);
    }
  };
  thread_local Handles handles;
  const DeviceScope& scope = DeviceScope::current(op);
  cublasHandle_t& h = handles.handle[static_cast<size_t>(scope.device())];
  if (!h) {
    check_cublas(cublas().create(&h), op, "cublasCreate");
    check_cublas(cublas().set_stream(h, scope.stream()), op, "cublasSetStream");
  }
  return h;
}

// cuBLAS sees the column-major transpose of each row-major operand.
cublasOperation_t op(const MatrixOperand& m) { return m.transposed ? CUBLAS_OP_T : CUBLAS_OP_N; }

int to_int(int64_t v, const char* op, const char* what) {
  LG_CHECK(v >= 0 && v <= INT_MAX, op, ": ", what, " ", v,
           " exceeds cuBLAS's 32-bit sizes on cuda");
  return static_cast<int>(v);
}

// One row-major operand of a product as cuBLAS reads it: its layout, data and
// batch stride.
template <typename T>
struct GemmOperand {
  MatrixOperand layout;
  const T* data;
  int64_t batch_stride;
};

// c [B,M,N] (contiguous) = a [B,M,K] @ b [B,K,N] + beta * c, K > 0.
template <typename T>
void gemm(const char* name, int64_t B, int64_t M, int64_t N, int64_t K, const GemmOperand<T>& a,
          const GemmOperand<T>& b, T* c, T beta) {
  const int m = to_int(N, name, "size"), n = to_int(M, name, "size"), k = to_int(K, name, "size");
  const int batch = to_int(B, name, "batch size");
  const int ld_a = to_int(a.layout.ld, name, "leading dimension");
  const int ld_b = to_int(b.layout.ld, name, "leading dimension");
  const T alpha = 1;
  cublasHandle_t handle = blas_handle(name);
  if constexpr (std::is_same_v<T, float>) {
    if (allow_tf32()) {  // operands rounded to TF32, products summed in float32
      check_cublas(
          cublas().gemm_strided_batched_ex(
              handle, op(b.layout), op(a.layout), m, n, k, &alpha, b.data, CUDA_R_32F, ld_b,
              b.batch_stride, a.data, CUDA_R_32F, ld_a, a.batch_stride, &beta, c, CUDA_R_32F, m,
              M * N, batch, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT),
          name, "cublasGemmStridedBatchedEx");
    } else {
      check_cublas(cublas().sgemm_strided_batched(handle, op(b.layout), op(a.layout), m, n, k,
                                                  &alpha, b.data, ld_b, b.batch_stride, a.data,
                                                  ld_a, a.batch_stride, &beta, c, m, M * N, batch),
                   name, "cublasSgemmStridedBatched");
    }
  } else {
    check_cublas(cublas().dgemm_strided_batched(handle, op(b.layout), op(a.layout), m, n, k, &alpha,
                                                b.data, ld_b, b.batch_stride, a.data, ld_a,
                                                a.batch_stride, &beta, c, m, M * N, batch),
                 name, "cublasDgemmStridedBatched");
  }
}

// A rows x cols matrix view with strides (rs, cs) as cuBLAS can read it: as
// it is where matrix_operand allows, else a contiguous copy (kept in `keep`).
template <typename T>
GemmOperand<T> gemm_operand(const Tensor& t, int64_t rows, int64_t cols, int64_t rs, int64_t cs,
                            int64_t batch_stride, Tensor& keep) {
  if (auto layout = matrix_operand(rows, cols, rs, cs)) {
    keep = t;
    return {*layout, ptr<T>(t), batch_stride};
  }
  keep = contiguous_copy(t);
  return {*matrix_operand(rows, cols, cols, 1), ptr<T>(keep), rows * cols};
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
    check(cudaMemsetAsync(c, 0, static_cast<size_t>(B * M * N) * sizeof(T), scope_stream("matmul")),
          "matmul", "cudaMemsetAsync");
    return;
  }
  Tensor a, b;
  const GemmOperand<T> ga =
      gemm_operand<T>(a_in, M, K, a_in.strides()[1], a_in.strides()[2], a_in.strides()[0], a);
  const GemmOperand<T> gb =
      gemm_operand<T>(b_in, K, N, b_in.strides()[1], b_in.strides()[2], b_in.strides()[0], b);
  gemm<T>("matmul", B, M, N, K, ga, gb, c, T(0));
}

// PyTorch's F.linear: out [M,N] = x [M,K] @ weight [N,K]ᵀ (+ bias). As on the
// CPU, the bias is first written into every row of out (by the copy kernel,
// from a stride-0 view of it) and the product added to it with beta 1, so the
// bias costs no pass of its own.
template <typename T>
void linear(const Tensor& out, const Tensor& x_in, const Tensor& w_in, const Tensor& bias) {
  DeviceScope scope("linear", {&out, &x_in, &w_in});
  const DType dtype = dtype_of<T>();
  LG_CHECK(out.dtype() == dtype && x_in.dtype() == dtype && w_in.dtype() == dtype &&
               out.dim() == 2 && x_in.dim() == 2 && w_in.dim() == 2 && out.is_contiguous() &&
               x_in.shape()[0] == out.shape()[0] && w_in.shape()[0] == out.shape()[1] &&
               x_in.shape()[1] == w_in.shape()[1] &&
               (!bias.defined() ||
                (bias.dtype() == dtype && bias.dim() == 1 && bias.shape()[0] == out.shape()[1])),
           "linear: CUDA kernel expected x [M,K], weight [N,K], bias [N] -> contiguous [M,N], "
           "got ",
           x_in.describe(), ", ", w_in.describe(), ", ",
           bias.defined() ? bias.describe() : std::string("no bias"), " -> ", out.describe());
  const int64_t M = out.shape()[0], N = out.shape()[1], K = x_in.shape()[1];
  if (M * N == 0) return;
  T* c = ptr<T>(out);
  if (bias.defined()) {
    DeviceScope bias_scope("linear", {&bias});
    const Tensor rows = make_view(bias, {M, N}, {0, bias.strides()[0]}, bias.storage_offset());
    kernel(&KernelTable::copy, out.device(), dtype, "linear")(out, rows);
  } else if (K == 0) {
    check(cudaMemsetAsync(c, 0, static_cast<size_t>(M * N) * sizeof(T), scope_stream("linear")),
          "linear", "cudaMemsetAsync");
  }
  if (K == 0) return;
  Tensor x, w;
  const GemmOperand<T> gx = gemm_operand<T>(x_in, M, K, x_in.strides()[0], x_in.strides()[1], 0, x);
  // weight [N,K] read as weightᵀ [K,N]: its strides swapped. A copy of it is
  // contiguous weight, which is weightᵀ with strides (1, K).
  GemmOperand<T> gw{};
  if (auto layout = matrix_operand(K, N, w_in.strides()[1], w_in.strides()[0])) {
    w = w_in;
    gw = {*layout, ptr<T>(w), 0};
  } else {
    w = contiguous_copy(w_in);
    gw = {*matrix_operand(K, N, 1, K), ptr<T>(w), 0};
  }
  gemm<T>("linear", 1, M, N, K, gx, gw, c, bias.defined() ? T(1) : T(0));
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

}  // namespace lg::cuda
