// Tensor factories: empty, zeros, ones, full, arange, rand, randn,
// from_vector/tensor, and the *_like forms. Random factories draw from the
// global generator (manual_seed, get_rng_state/set_rng_state).
#pragma once
#include <vector>

#include "../core/grad_mode.h"
#include "../core/random.h"
#include "../core/tensor.h"

namespace lg {

Tensor empty(const Shape& shape, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, const Scalar& value, TensorOptions options = {});
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, const Scalar& value);

// [0, end) or [start, end) by step. Integer arguments give int64 (as PyTorch);
// any floating argument gives float32. The TensorOptions form sets the dtype.
Tensor arange(const Scalar& end);
Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step = 1);
Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step, TensorOptions options);

Tensor rand(const Shape& shape, TensorOptions options = {});   // uniform [0, 1)
Tensor randn(const Shape& shape, TensorOptions options = {});  // standard normal
Tensor rand_like(const Tensor& t);
Tensor randn_like(const Tensor& t);
// Fills t in place (under NoGradGuard) from the global generator.
void uniform_(Tensor& t, double low, double high);
void normal_(Tensor& t, double mean, double std);

// Copies host values into a new tensor (default shape: 1-d).
Tensor from_data(const void* data, DType data_dtype, int64_t count, const Shape& shape,
                 TensorOptions options);
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions options) {
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<char> bytes(values.begin(), values.end());
    return from_data(bytes.data(), kBool, static_cast<int64_t>(values.size()), shape, options);
  } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, int64_t>) {
    std::vector<int64_t> wide(values.size());
    for (size_t i = 0; i < values.size(); ++i) wide[i] = to_int64(values[i], "from_vector");
    return from_data(wide.data(), kInt64, static_cast<int64_t>(values.size()), shape, options);
  } else {
    return from_data(values.data(), dtype_of<T>(), static_cast<int64_t>(values.size()), shape,
                     options);
  }
}
// The dtype follows T (float -> float32, double -> float64, integers -> int64, bool).
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
  return from_vector(values, shape, TensorOptions{.dtype = dtype_for_values<T>()});
}
template <typename T>
Tensor from_vector(const std::vector<T>& values) {
  return from_vector(values, Shape{static_cast<int64_t>(values.size())});
}
template <typename T>
Tensor tensor(const std::vector<T>& values, const Shape& shape) {
  return from_vector(values, shape);
}
template <typename T>
Tensor tensor(const std::vector<T>& values) {
  return from_vector(values);
}

}  // namespace lg
