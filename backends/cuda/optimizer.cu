// CUDA fused Adam/AdamW step: one pass over param, grad and both moments, with
// the coefficients rounded to T once and the operations in the order of
// backends/cpu/optimizer.cpp (one rounding per operation in T; this file is
// compiled without fused multiply-adds, and division and square root are
// IEEE-rounded), so both devices give the same bits.
#include <lasergrad/ops/adam_step.h>

#include <cmath>
#include <cstdint>

#include "launch.cuh"

namespace lg::cuda {
namespace {

template <typename T>
struct AdamCoefficients {
  T beta1, one_minus_beta1, beta2, one_minus_beta2, l2, decay, step_size, bc2_sqrt, eps;
};

template <typename T>
AdamCoefficients<T> coefficients(const AdamStepArgs& a) {
  return {static_cast<T>(a.beta1), static_cast<T>(1.0 - a.beta1), static_cast<T>(a.beta2),
          static_cast<T>(1.0 - a.beta2), static_cast<T>(a.weight_decay),
          // Adam (not decoupled) and AdamW without decay both scale by exactly 1.
          static_cast<T>(a.decoupled ? 1.0 - a.lr * a.weight_decay : 1.0),
          static_cast<T>(a.lr / a.bias_correction1), static_cast<T>(std::sqrt(a.bias_correction2)),
          static_cast<T>(a.eps)};
}

__device__ inline float sqrt_of(float x) { return __fsqrt_rn(x); }
__device__ inline double sqrt_of(double x) { return __dsqrt_rn(x); }

template <typename T, bool kL2>
struct AdamFn {
  T* p;
  const T* g;
  T* m;
  T* v;
  AdamCoefficients<T> c;
  __device__ void operator()(int64_t i, const int64_t*) const {
    T gi = g[i];
    if constexpr (kL2) gi = gi + p[i] * c.l2;
    const T pi = p[i] * c.decay;
    const T mi = m[i] * c.beta1 + gi * c.one_minus_beta1;
    const T vi = v[i] * c.beta2 + (gi * gi) * c.one_minus_beta2;
    const T denom = sqrt_of(vi) / c.bc2_sqrt + c.eps;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - (mi / denom) * c.step_size;
  }
};

template <typename T>
void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
               const Tensor& exp_avg_sq, const AdamStepArgs& args) {
  DeviceScope scope("adam_step", {&param, &grad, &exp_avg, &exp_avg_sq});
  for (const Tensor* t : {&param, &grad, &exp_avg, &exp_avg_sq}) {
    check_operand("adam_step", *t, param.shape(), dtype_of<T>());
    LG_CHECK(t->is_contiguous(), "adam_step: CUDA kernel expected contiguous operands, got ",
             t->describe());
  }
  const Shape shape{param.numel()}, strides{1};
  const AdamCoefficients<T> c = coefficients<T>(args);
  // PyTorch adds the L2 term only when weight_decay != 0 (0 * inf would be NaN).
  if (!args.decoupled && args.weight_decay != 0.0)
    launch<1>("adam_step", shape, {&strides},
              AdamFn<T, true>{ptr<T>(param), ptr<T>(grad), ptr<T>(exp_avg), ptr<T>(exp_avg_sq), c});
  else
    launch<1>(
        "adam_step", shape, {&strides},
        AdamFn<T, false>{ptr<T>(param), ptr<T>(grad), ptr<T>(exp_avg), ptr<T>(exp_avg_sq), c});
}

}  // namespace

void fill_optimizer_kernels(KernelTable& t, DType dtype) {
  if (dtype == kFloat32) t.adam_step = adam_step<float>;
  if (dtype == kFloat64) t.adam_step = adam_step<double>;
}

}  // namespace lg::cuda
