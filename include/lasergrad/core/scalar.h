// Scalar: a number of any arithmetic type, so that 2 * t, 2.0 * t, t / 3 and
// t + 1.5f all resolve to one overload. A Tensor is never made from a number
// implicitly, which keeps these calls unambiguous.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "dtype.h"
#include "error.h"

namespace lg {

// v as int64_t; an unsigned value above INT64_MAX does not fit and would wrap
// to a negative number, so it raises an lg::Error naming `what` and the value.
template <typename T>
int64_t to_int64(T v, const char* what) {
  static_assert(std::is_integral_v<T>);
  if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(int64_t))
    LG_CHECK(v <= static_cast<uint64_t>(INT64_MAX), what, ": value ", v,
             " cannot be converted to int64 without overflow");
  return static_cast<int64_t>(v);
}

class Scalar {
 public:
  enum class Kind : uint8_t { Bool, Int, Float };

  template <typename T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
  Scalar(T v) {  // NOLINT(google-explicit-constructor): implicit by design
    if constexpr (std::is_same_v<T, bool>) {
      kind_ = Kind::Bool;
      i_ = v ? 1 : 0;
    } else if constexpr (std::is_integral_v<T>) {
      kind_ = Kind::Int;
      i_ = to_int64(v, "Scalar");
    } else {
      kind_ = Kind::Float;
      d_ = static_cast<double>(v);
    }
  }

  Kind kind() const { return kind_; }
  bool is_floating() const { return kind_ == Kind::Float; }
  double to_double() const { return kind_ == Kind::Float ? d_ : static_cast<double>(i_); }
  // Truncates a float; one outside int64's range (NaN, inf, 1e30) is an lg::Error,
  // as in PyTorch, since converting it would be undefined behaviour.
  int64_t to_int() const {
    if (kind_ != Kind::Float) return i_;
    LG_CHECK(d_ >= -0x1p63 && d_ < 0x1p63, "value ", d_,
             " cannot be converted to int64 without overflow");
    return static_cast<int64_t>(d_);
  }
  // A finite value beyond float32's range is an lg::Error, as in PyTorch (the
  // conversion would be undefined behaviour); infinities and NaN convert.
  float to_float() const {
    const double d = to_double();
    LG_CHECK(!(std::isfinite(d) && std::fabs(d) > std::numeric_limits<float>::max()), "value ", d,
             " cannot be converted to float32 without overflow");
    return static_cast<float>(d);
  }
  template <typename T>
  T to() const {
    if constexpr (std::is_same_v<T, bool>)
      return kind_ == Kind::Float ? d_ != 0 : i_ != 0;
    else if constexpr (std::is_same_v<T, float>)
      return to_float();
    else if constexpr (std::is_floating_point_v<T>)
      return static_cast<T>(to_double());
    else
      return static_cast<T>(to_int());
  }
  // The dtype a number of this kind has on its own (Python's rule: float -> float32).
  DType default_dtype() const {
    return kind_ == Kind::Float ? kFloat32 : kind_ == Kind::Int ? kInt64 : kBool;
  }

 private:
  Kind kind_;
  int64_t i_ = 0;
  double d_ = 0;
};

}  // namespace lg
