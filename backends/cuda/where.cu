// CUDA elementwise selection, where(cond, a, b), which also serves masked_fill
// (a 0-d fill value broadcast with stride 0), as backends/cpu/elementwise_select.cpp.
#include <cstdint>

#include "launch.cuh"

namespace lg::cuda {
namespace {

template <typename T>
struct WhereFn {
  T* out;
  const bool* cond;
  const T* a;
  const T* b;
  __device__ void operator()(int64_t, const int64_t* off) const {
    out[off[0]] = cond[off[1]] ? a[off[2]] : b[off[3]];
  }
};

template <typename T>
void where(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) {
  DeviceScope scope("where", {&out, &cond, &a, &b});
  check_operand("where", out, out.shape(), dtype_of<T>());
  check_operand("where", cond, out.shape(), kBool);
  check_operand("where", a, out.shape(), dtype_of<T>());
  check_operand("where", b, out.shape(), dtype_of<T>());
  launch<4>("where", out.shape(), {&out.strides(), &cond.strides(), &a.strides(), &b.strides()},
            WhereFn<T>{ptr<T>(out), ptr<bool>(cond), ptr<T>(a), ptr<T>(b)});
}

}  // namespace

void fill_where_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) { t.where = where<decltype(tag)>; });
}

}  // namespace lg::cuda
