// Element types, their sizes and names, and PyTorch's type-promotion rules.
#pragma once
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <type_traits>

namespace lg {

enum class DType : uint8_t { Float32, Float64, Int64, Bool };
inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kBool = DType::Bool;
inline constexpr int kNumDTypes = 4;

size_t element_size(DType t);
const char* dtype_name(DType t);  // "float32", "float64", "int64", "bool"
inline bool is_floating(DType t) { return t == kFloat32 || t == kFloat64; }
inline std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }

// The smallest dtype that represents both (bool < int64 < float32 < float64).
DType promote_types(DType a, DType b);

// The C++ element type of each dtype, exactly one per dtype: storage is only
// ever read as its own element type (int64 storage read through an int32_t*
// would give wrong values silently), so data_ptr<T> and to_vector<T> accept
// these four and no other type.
template <typename T>
concept ElementType = std::same_as<T, float> || std::same_as<T, double> ||
    std::same_as<T, int64_t> || std::same_as<T, bool>;

template <typename T>
constexpr DType dtype_of() {
  static_assert(ElementType<T>,
                "lasergrad: no dtype has this element type; the element types are float, double, "
                "int64_t and bool (use int64_t for integers)");
  if constexpr (std::is_same_v<T, float>) return kFloat32;
  else if constexpr (std::is_same_v<T, double>) return kFloat64;
  else if constexpr (std::is_same_v<T, bool>) return kBool;
  else
    return kInt64;
}

// The dtype that host values of type T become in a tensor: any integer type
// widens to int64, as PyTorch's torch.tensor does.
template <typename T>
constexpr DType dtype_for_values() {
  static_assert(std::is_arithmetic_v<T>, "lasergrad: tensor values must be numbers");
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    return kInt64;
  else
    return dtype_of<T>();
}

// Calls f(T{}) with T the C++ type of dtype t.
template <typename F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::Float32:
      return f(float{});
    case DType::Float64:
      return f(double{});
    case DType::Int64:
      return f(int64_t{});
    case DType::Bool:
      break;
  }
  return f(bool{});
}

}  // namespace lg
