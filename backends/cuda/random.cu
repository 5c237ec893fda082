// CUDA dropout mask: dropout's scaled keep mask in one pass, from the Philox
// stream that uniform (elementwise.cu) and the CPU's dropout_mask
// (backends/cpu/elementwise.cpp) draw, so that one seed gives one mask, bit
// for bit, on both devices: element i takes philox::word(seed, offset, i),
// and only integer arithmetic, an exact scaling and one comparison follow.
#include <cstdint>
#include <type_traits>

#include "../../core/philox.h"
#include "launch.cuh"

namespace lg::cuda {
namespace {

template <typename T>
struct DropoutMaskFn {
  T* out;
  T keep, scale;
  uint64_t seed, offset;
  __device__ void operator()(int64_t i, const int64_t* off) const {
    const uint32_t w = philox::word(seed, offset, static_cast<uint64_t>(i));
    // uniform's value for low 0 and span 1 (0 + 1 * u is u exactly), in T.
    out[off[0]] = static_cast<T>(philox::unit_value<T>(w)) < keep ? scale : T(0);
  }
};

template <typename T>
void dropout_mask(const Tensor& out, double p, uint64_t seed, uint64_t offset) {
  DeviceScope scope("dropout", {&out});
  check_operand("dropout", out, out.shape(), dtype_of<T>());
  LG_CHECK(out.is_contiguous(), "dropout: CUDA kernel expected a contiguous mask, got ",
           out.describe());
  // Rounded on the host as the CPU kernel rounds them.
  const T keep = static_cast<T>(1 - p), scale = static_cast<T>(1.0 / (1 - p));
  launch<1>("dropout", out.shape(), {&out.strides()},
            DropoutMaskFn<T>{ptr<T>(out), keep, scale, seed, offset});
}

}  // namespace

void fill_random_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) t.dropout_mask = dropout_mask<T>;
  });
}

}  // namespace lg::cuda
