#include <lasergrad/ops/factory.h>

#include <cmath>
#include <cstring>

#include "op_support.h"

namespace lg {
namespace {

Tensor finish(Tensor t, const TensorOptions& options) {
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}

}  // namespace

Tensor empty(const Shape& shape, TensorOptions options) {
  return finish(Tensor::empty(shape, options.dtype, options.device), options);
}

namespace {
Tensor filled(const Shape& shape, const Scalar& value, const TensorOptions& options,
              const char* op) {
  Tensor t = Tensor::empty(shape, options.dtype, options.device, op);
  kernel(&KernelTable::fill, options.device, options.dtype, op)(t, value);
  return finish(t, options);
}
}  // namespace

Tensor full(const Shape& shape, const Scalar& value, TensorOptions options) {
  return filled(shape, value, options, "full");
}
Tensor zeros(const Shape& shape, TensorOptions options) {
  return filled(shape, 0, options, "zeros");
}
Tensor ones(const Shape& shape, TensorOptions options) { return filled(shape, 1, options, "ones"); }

Tensor full_like(const Tensor& t, const Scalar& value) {
  detail::check_defined(t, "full_like");
  return full(t.shape(), value, {.dtype = t.dtype(), .device = t.device()});
}
Tensor zeros_like(const Tensor& t) { return full_like(t, 0); }
Tensor ones_like(const Tensor& t) { return full_like(t, 1); }

namespace {

// Integral bounds: counted and filled in int64 exactly (a double loses
// integers above 2^53), in __int128 where end - start overflows int64.
Tensor arange_int64(int64_t s, int64_t e, int64_t st) {
  // Again in int64: bounds a double cannot tell apart may still be reversed.
  LG_CHECK((st > 0 && e >= s) || (st < 0 && e <= s), "arange: upper bound ", e, " and lower bound ",
           s, " inconsistent with step sign ", st);
  const __int128 span = static_cast<__int128>(e) - s;
  const __int128 count =
      (span + st + (st > 0 ? -1 : 1)) / st;  // ceil(span / st), span, st same sign
  LG_CHECK(count <= INT64_MAX, "arange: [", s, ", ", e, ") in steps of ", st, " has ",
           static_cast<double>(count), " elements, more than int64 can count");
  const int64_t n = static_cast<int64_t>(count);
  Tensor t = Tensor::empty({n}, kInt64, Device::cpu(), "arange");
  int64_t* p = static_cast<int64_t*>(t.raw_data());
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int64_t>(s + static_cast<__int128>(st) * i);
  return t;
}

Tensor arange_double(double s, double e, double st) {
  const double count = std::ceil((e - s) / st);
  // 2^63 is exactly representable: below it, the count converts to int64.
  LG_CHECK(count < 9223372036854775808.0, "arange: [", s, ", ", e, ") in steps of ", st, " has ",
           count, " elements, more than int64 can count");
  const int64_t n = static_cast<int64_t>(count);
  Tensor t = Tensor::empty({n}, kFloat64, Device::cpu(), "arange");
  double* p = static_cast<double*>(t.raw_data());
  for (int64_t i = 0; i < n; ++i) p[i] = s + st * static_cast<double>(i);
  return t;
}

}  // namespace

Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step, TensorOptions options) {
  double s = start.to_double(), e = end.to_double(), st = step.to_double();
  LG_CHECK(st != 0, "arange: step must be non-zero");
  LG_CHECK(std::isfinite(s) && std::isfinite(e) && std::isfinite(st),
           "arange: start, end and step must be finite, got ", s, ", ", e, ", ", st);
  LG_CHECK((st > 0 && e >= s) || (st < 0 && e <= s), "arange: upper bound ", e,
           " and lower bound ", s, " inconsistent with step sign ", st);
  const bool integral = !start.is_floating() && !end.is_floating() && !step.is_floating();
  Tensor host = integral ? arange_int64(start.to_int(), end.to_int(), step.to_int())
                         : arange_double(s, e, st);
  Tensor out = detail::cast_raw(host, options.dtype);
  if (options.device != Device::cpu()) out = out.to(options.device);
  if (out.is_same(host) && options.requires_grad) out = out.detach();
  return finish(out, options);
}

Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step) {
  bool floating = start.is_floating() || end.is_floating() || step.is_floating();
  return arange(start, end, step, {.dtype = floating ? kFloat32 : kInt64});
}
Tensor arange(const Scalar& end) { return arange(0, end, 1); }

void uniform_(Tensor& t, double low, double high) {
  LG_CHECK(is_floating(t.dtype()), "uniform_: needs a floating-point tensor, got ", t.describe());
  NoGradGuard no_grad;
  Tensor target = t.is_contiguous() ? t : Tensor::empty(t.shape(), t.dtype(), t.device());
  RngState s = reserve_random(static_cast<uint64_t>(t.numel()));
  kernel(&KernelTable::uniform, t.device(), t.dtype(), "uniform_")(target, low, high, s.seed, s.offset);
  if (!target.is_same(t)) t.copy_(target);
  t.bump_version();
}

void normal_(Tensor& t, double mean, double std) {
  LG_CHECK(is_floating(t.dtype()), "normal_: needs a floating-point tensor, got ", t.describe());
  LG_CHECK(std >= 0, "normal_: std must be non-negative, got ", std);
  NoGradGuard no_grad;
  Tensor target = t.is_contiguous() ? t : Tensor::empty(t.shape(), t.dtype(), t.device());
  RngState s = reserve_random(static_cast<uint64_t>(t.numel()));
  kernel(&KernelTable::normal, t.device(), t.dtype(), "normal_")(target, mean, std, s.seed, s.offset);
  if (!target.is_same(t)) t.copy_(target);
  t.bump_version();
}

Tensor rand(const Shape& shape, TensorOptions options) {
  Tensor t = Tensor::empty(shape, options.dtype, options.device, "rand");
  uniform_(t, 0.0, 1.0);
  return finish(t, options);
}

Tensor randn(const Shape& shape, TensorOptions options) {
  Tensor t = Tensor::empty(shape, options.dtype, options.device, "randn");
  normal_(t, 0.0, 1.0);
  return finish(t, options);
}

Tensor rand_like(const Tensor& t) { return rand(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor randn_like(const Tensor& t) { return randn(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }

Tensor from_data(const void* data, DType data_dtype, int64_t count, const Shape& shape,
                 TensorOptions options) {
  LG_CHECK(shape_numel(shape) == count, "from_vector: ", count, " values do not fill shape ",
           shape_str(shape), " (", shape_numel(shape), " elements)");
  Tensor host = Tensor::empty(shape, data_dtype, Device::cpu());
  if (count > 0) std::memcpy(host.raw_data(), data, count * element_size(data_dtype));
  Tensor out = detail::cast_raw(host, options.dtype);
  if (options.device != Device::cpu()) out = out.to(options.device);
  if (out.is_same(host) && options.requires_grad) out = out.detach();
  return finish(out, options);
}

}  // namespace lg
