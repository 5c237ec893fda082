// CUDA binary kernels: arithmetic (add, sub, mul, div, pow, maximum, minimum)
// and comparisons writing bool, on operands of any strides (stride 0 for a
// broadcast dim), with the semantics of backends/cpu/elementwise.cpp.
#include <cstdint>
#include <type_traits>

#include "../integer_math.h"
#include "launch.cuh"

namespace lg::cuda {
namespace {

template <typename T>
__device__ T power(T a, T b) {
  if constexpr (std::is_same_v<T, bool>) {
    return a || !b;
  } else if constexpr (std::is_integral_v<T>) {
    return integer_math::pow<T>(a, b);
  } else if constexpr (std::is_same_v<T, float>) {
    return powf(a, b);
  } else {
    return pow(a, b);
  }
}

template <BinaryOp Op, typename T>
__device__ auto binary_apply(T x, T y) {
  // integer_math wraps integers around on overflow; for floats these are the operators.
  if constexpr (Op == BinaryOp::Add) {
    return integer_math::add<T>(x, y);
  } else if constexpr (Op == BinaryOp::Sub) {
    return integer_math::sub<T>(x, y);
  } else if constexpr (Op == BinaryOp::Mul) {
    return integer_math::mul<T>(x, y);
  } else if constexpr (Op == BinaryOp::Div) {
    return integer_math::div<T>(x, y);
  } else if constexpr (Op == BinaryOp::Pow) {
    return power<T>(x, y);
  } else if constexpr (Op == BinaryOp::Maximum) {  // NaN propagates, as in PyTorch
    return (x != x || x > y) ? x : y;
  } else if constexpr (Op == BinaryOp::Minimum) {
    return (x != x || x < y) ? x : y;
  } else if constexpr (Op == BinaryOp::Eq) {
    return x == y;
  } else if constexpr (Op == BinaryOp::Ne) {
    return x != y;
  } else if constexpr (Op == BinaryOp::Lt) {
    return x < y;
  } else if constexpr (Op == BinaryOp::Le) {
    return x <= y;
  } else if constexpr (Op == BinaryOp::Gt) {
    return x > y;
  } else {
    static_assert(Op == BinaryOp::Ge);
    return x >= y;
  }
}

template <BinaryOp Op, typename T>
struct BinaryFn {
  using Out = std::conditional_t<(Op >= BinaryOp::Eq), bool, T>;  // comparisons give bool
  Out* out;
  const T* a;
  const T* b;
  __device__ void operator()(int64_t, const int64_t* off) const {
    out[off[0]] = binary_apply<Op, T>(a[off[1]], b[off[2]]);
  }
};

template <BinaryOp Op, typename T>
void run(const Tensor& out, const Tensor& a, const Tensor& b) {
  using Fn = BinaryFn<Op, T>;
  launch<3>(op_name(Op), out.shape(), {&out.strides(), &a.strides(), &b.strides()},
            Fn{ptr<typename Fn::Out>(out), ptr<T>(a), ptr<T>(b)});
}

template <typename T>
void binary(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  LG_CHECK(op < BinaryOp::Count, "binary: unknown op ", static_cast<int>(op));
  const char* name = op_name(op);
  DeviceScope scope(name, {&out, &a, &b});
  check_operand(name, out, out.shape(), op >= BinaryOp::Eq ? kBool : dtype_of<T>());
  check_operand(name, a, out.shape(), dtype_of<T>());
  check_operand(name, b, out.shape(), dtype_of<T>());
  switch (op) {
    case BinaryOp::Add:
      return run<BinaryOp::Add, T>(out, a, b);
    case BinaryOp::Sub:
      return run<BinaryOp::Sub, T>(out, a, b);
    case BinaryOp::Mul:
      return run<BinaryOp::Mul, T>(out, a, b);
    case BinaryOp::Div:
      return run<BinaryOp::Div, T>(out, a, b);
    case BinaryOp::Pow:
      return run<BinaryOp::Pow, T>(out, a, b);
    case BinaryOp::Maximum:
      return run<BinaryOp::Maximum, T>(out, a, b);
    case BinaryOp::Minimum:
      return run<BinaryOp::Minimum, T>(out, a, b);
    case BinaryOp::Eq:
      return run<BinaryOp::Eq, T>(out, a, b);
    case BinaryOp::Ne:
      return run<BinaryOp::Ne, T>(out, a, b);
    case BinaryOp::Lt:
      return run<BinaryOp::Lt, T>(out, a, b);
    case BinaryOp::Le:
      return run<BinaryOp::Le, T>(out, a, b);
    case BinaryOp::Gt:
      return run<BinaryOp::Gt, T>(out, a, b);
    case BinaryOp::Ge:
      return run<BinaryOp::Ge, T>(out, a, b);
    default:  // an op core/kernels.h has gained that this backend does not have yet
      detail::fail(name, ": not implemented for ", dtype_name(dtype_of<T>()), " on cuda:0");
  }
}

}  // namespace

void fill_binary_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) { t.binary = binary<decltype(tag)>; });
}

}  // namespace lg::cuda
