// The int that cblas takes for every dimension and leading dimension (32-bit
// in the LP64 OpenBLAS we link): each int64 is range-checked before a call,
// since a narrowed value would make BLAS read and write the wrong extent.
#pragma once
#include <cblas.h>

#include <cstdint>
#include <limits>

#include <lasergrad/core/error.h>

namespace lg::cpu {

inline blasint blas_int(int64_t v, const char* op, const char* what) {
  LG_CHECK(v >= 0 && v <= std::numeric_limits<blasint>::max(), op, ": ", what, " = ", v,
           " does not fit the BLAS integer (at most ", std::numeric_limits<blasint>::max(), ")");
  return static_cast<blasint>(v);
}

}  // namespace lg::cpu
