// Shared by the backends' matrix products: how a row-major matrix view is
// handed to a BLAS (CPU OpenBLAS, cuBLAS) without copying it.
#pragma once
#include <algorithm>
#include <cstdint>
#include <optional>

namespace lg {

struct MatrixOperand {
  bool transposed;  // read as the transpose of a row-major matrix
  int64_t ld;       // its leading dimension
};

// A rows x cols matrix with strides (rs, cs): a unit column stride reads it
// as-is, a unit row stride as a transposed matrix; neither needs a copy first.
inline std::optional<MatrixOperand> matrix_operand(int64_t rows, int64_t cols, int64_t rs,
                                                   int64_t cs) {
  if ((cs == 1 || cols == 1) && (rows == 1 || rs >= std::max<int64_t>(cols, 1)))
    return MatrixOperand{false, rows == 1 ? std::max<int64_t>(cols, 1) : rs};
  if ((rs == 1 || rows == 1) && (cols == 1 || cs >= std::max<int64_t>(rows, 1)))
    return MatrixOperand{true, cols == 1 ? std::max<int64_t>(rows, 1) : cs};
  return std::nullopt;
}

}  // namespace lg
