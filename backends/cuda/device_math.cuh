// The device math functions in T's precision: single precision for float,
// double otherwise, as the CPU kernels' std:: overloads pick them. Shared by
// the CUDA kernel families that follow the CPU's formulas.
#pragma once
#include <cmath>

namespace lg::cuda {

__device__ inline float exp_of(float x) { return expf(x); }
__device__ inline double exp_of(double x) { return exp(x); }
__device__ inline float log_of(float x) { return logf(x); }
__device__ inline double log_of(double x) { return log(x); }
__device__ inline float log1p_of(float x) { return log1pf(x); }
__device__ inline double log1p_of(double x) { return log1p(x); }
__device__ inline float sqrt_of(float x) { return sqrtf(x); }
__device__ inline double sqrt_of(double x) { return sqrt(x); }
__device__ inline float tanh_of(float x) { return tanhf(x); }
__device__ inline double tanh_of(double x) { return tanh(x); }
__device__ inline float erf_of(float x) { return erff(x); }
__device__ inline double erf_of(double x) { return erf(x); }
__device__ inline float fabs_of(float x) { return fabsf(x); }
__device__ inline double fabs_of(double x) { return fabs(x); }
__device__ inline float fmax_of(float x, float y) { return fmaxf(x, y); }
__device__ inline double fmax_of(double x, double y) { return fmax(x, y); }

}  // namespace lg::cuda
