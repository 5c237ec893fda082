// CPU kernel for elementwise selection: where(cond, a, b), which also serves
// masked_fill (a 0-d fill value broadcast with stride 0).
#include <algorithm>

#include "cpu_kernels.h"
#include "strided_loop.h"

namespace lg::cpu {
namespace {

template <typename T>
void where(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) {
  T* o = ptr<T>(out);
  const bool* c = ptr<bool>(cond);
  const T* pa = ptr<T>(a);
  const T* pb = ptr<T>(b);
  for_each_run<4>(out.shape(), {&out.strides(), &cond.strides(), &a.strides(), &b.strides()},
                  [&](int64_t n, auto off, auto st) {
                    T* po = o + off[0];
                    const bool* pc = c + off[1];
                    const T* x = pa + off[2];
                    const T* y = pb + off[3];
                    if (st[1] == 0) {
                      // One condition for the whole run (a mask broadcast over the
                      // inner dim, as masked_fill's padding masks): a copy of one side.
                      const T* src = pc[0] ? x : y;
                      const int64_t ss = pc[0] ? st[2] : st[3];
                      if (ss == 0) {
                        for (int64_t i = 0; i < n; ++i) po[i * st[0]] = src[0];
                      } else if (st[0] == 1 && ss == 1) {
                        std::copy(src, src + n, po);
                      } else {
                        for (int64_t i = 0; i < n; ++i) po[i * st[0]] = src[i * ss];
                      }
                    } else if (st[0] == 1 && st[1] == 1 && st[2] == 1 && st[3] == 1) {
                      for (int64_t i = 0; i < n; ++i) po[i] = pc[i] ? x[i] : y[i];
                    } else if (st[0] == 1 && st[1] == 1 && st[2] == 1 && st[3] == 0) {
                      const T fill = y[0];  // masked_fill's scalar
                      for (int64_t i = 0; i < n; ++i) po[i] = pc[i] ? x[i] : fill;
                    } else {
                      for (int64_t i = 0; i < n; ++i)
                        po[i * st[0]] = pc[i * st[1]] ? x[i * st[2]] : y[i * st[3]];
                    }
                  });
}

}  // namespace

void fill_elementwise_select_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) { t.where = where<decltype(tag)>; });
}

}  // namespace lg::cpu
