// CPU elementwise kernels: fill, copy/cast, unary and binary math,
// comparisons, the finiteness check, and counter-based random fills.
#include <cmath>

#include "../../core/philox.h"
#include "../integer_math.h"
#include "cpu_kernels.h"
#include "strided_loop.h"
#include "vector_math.h"

namespace lg::cpu {
namespace {

template <typename T>
void fill(const Tensor& out, const Scalar& value) {
  const T v = value.to<T>();
  T* o = ptr<T>(out);
  for_each_run<1>(out.shape(), {&out.strides()}, [&](int64_t n, auto off, auto st) {
    T* p = o + off[0];
    if (st[0] == 1) {
      std::fill(p, p + n, v);
    } else {
      for (int64_t i = 0; i < n; ++i) p[i * st[0]] = v;
    }
  });
}

template <typename To, typename From>
void copy_typed(const Tensor& dst, const Tensor& src) {
  To* o = ptr<To>(dst);
  const From* s = ptr<From>(src);
  for_each_run<2>(dst.shape(), {&dst.strides(), &src.strides()}, [&](int64_t n, auto off, auto st) {
    To* po = o + off[0];
    const From* ps = s + off[1];
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < n; ++i) po[i] = integer_math::convert<To>(ps[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) po[i * st[0]] = integer_math::convert<To>(ps[i * st[1]]);
    }
  });
}

template <typename T>
void copy(const Tensor& dst, const Tensor& src) {
  visit_dtype(src.dtype(), [&](auto s) { copy_typed<T, decltype(s)>(dst, src); });
}

template <typename Out, typename T, typename F>
void map1(const Tensor& out, const Tensor& in, F f) {
  Out* o = ptr<Out>(out);
  const T* a = ptr<T>(in);
  for_each_run<2>(out.shape(), {&out.strides(), &in.strides()}, [&](int64_t n, auto off, auto st) {
    Out* po = o + off[0];
    const T* pa = a + off[1];
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) po[i * st[0]] = f(pa[i * st[1]]);
    }
  });
}

template <typename Out, typename T, typename F>
void map2(const Tensor& out, const Tensor& x, const Tensor& y, F f) {
  Out* o = ptr<Out>(out);
  const T* a = ptr<T>(x);
  const T* b = ptr<T>(y);
  for_each_run<3>(out.shape(), {&out.strides(), &x.strides(), &y.strides()},
                  [&](int64_t n, auto off, auto st) {
                    Out* po = o + off[0];
                    const T* pa = a + off[1];
                    const T* pb = b + off[2];
                    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
                      for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i], pb[i]);
                    } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
                      const T vb = *pb;
                      for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i], vb);
                    } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
                      const T va = *pa;
                      for (int64_t i = 0; i < n; ++i) po[i] = f(va, pb[i]);
                    } else {
                      for (int64_t i = 0; i < n; ++i) po[i * st[0]] = f(pa[i * st[1]], pb[i * st[2]]);
                    }
                  });
}

template <typename T>
T power(T a, T b) {
  if constexpr (std::is_same_v<T, bool>) {
    return a || !b;
  } else if constexpr (std::is_integral_v<T>) {
    return integer_math::pow<T>(a, b);
  } else {
    return std::pow(a, b);
  }
}

template <typename T>
void unary(UnaryOp op, const Tensor& out, const Tensor& in) {
  using F = std::conditional_t<std::is_floating_point_v<T>, T, double>;
  switch (op) {
    case UnaryOp::Neg:
      return map1<T, T>(out, in, [](T a) { return integer_math::neg<T>(a); });
    case UnaryOp::Exp: return map1<T, T>(out, in, [](T a) { return static_cast<T>(std::exp(F(a))); });
    case UnaryOp::Log: return map1<T, T>(out, in, [](T a) { return static_cast<T>(std::log(F(a))); });
    case UnaryOp::Sqrt: return map1<T, T>(out, in, [](T a) { return static_cast<T>(std::sqrt(F(a))); });
    case UnaryOp::Abs:
      return map1<T, T>(out, in, [](T a) { return integer_math::abs<T>(a); });
    case UnaryOp::Tanh: case UnaryOp::Sigmoid: case UnaryOp::Relu: case UnaryOp::Gelu:
    case UnaryOp::GeluTanh: case UnaryOp::Silu: case UnaryOp::Softplus: case UnaryOp::Erf:
      return unary_activation(op, out, in);
    case UnaryOp::Count: break;
  }
}

template <typename T>
void binary(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  switch (op) {
    // integer_math wraps integers around on overflow; for floats these are the operators.
    case BinaryOp::Add:
      return map2<T, T>(out, a, b, [](T x, T y) { return integer_math::add<T>(x, y); });
    case BinaryOp::Sub:
      return map2<T, T>(out, a, b, [](T x, T y) { return integer_math::sub<T>(x, y); });
    case BinaryOp::Mul:
      return map2<T, T>(out, a, b, [](T x, T y) { return integer_math::mul<T>(x, y); });
    case BinaryOp::Div:
      return map2<T, T>(out, a, b, [](T x, T y) { return integer_math::div<T>(x, y); });
    case BinaryOp::Pow: return map2<T, T>(out, a, b, [](T x, T y) { return power<T>(x, y); });
    case BinaryOp::Maximum:  // NaN propagates, as in PyTorch
      return map2<T, T>(out, a, b, [](T x, T y) { return (x != x || x > y) ? x : y; });
    case BinaryOp::Minimum:
      return map2<T, T>(out, a, b, [](T x, T y) { return (x != x || x < y) ? x : y; });
    case BinaryOp::Eq: return map2<bool, T>(out, a, b, [](T x, T y) { return x == y; });
    case BinaryOp::Ne: return map2<bool, T>(out, a, b, [](T x, T y) { return x != y; });
    case BinaryOp::Lt: return map2<bool, T>(out, a, b, [](T x, T y) { return x < y; });
    case BinaryOp::Le: return map2<bool, T>(out, a, b, [](T x, T y) { return x <= y; });
    case BinaryOp::Gt: return map2<bool, T>(out, a, b, [](T x, T y) { return x > y; });
    case BinaryOp::Ge: return map2<bool, T>(out, a, b, [](T x, T y) { return x >= y; });
    case BinaryOp::Count: break;
  }
}

template <typename T>
bool all_finite(const Tensor& in) {
  const T* a = ptr<T>(in);
  bool ok = true;
  for_each_run<1>(in.shape(), {&in.strides()}, [&](int64_t n, auto off, auto st) {
    bool local = true;
    for (int64_t i = 0; i < n; ++i) local = local && std::isfinite(a[off[0] + i * st[0]]);
    if (!local) {
#pragma omp atomic write
      ok = false;
    }
  });
  return ok;
}

template <typename T>
T uniform_value(uint32_t w, double low, double span) {
  return static_cast<T>(low + span * philox::unit_value<T>(w));
}

// Writes o[i] = value(word) for the n elements of a contiguous output, where
// element i takes word (offset + i) % 4 of Philox block (offset + i) / 4, as
// philox::word; blocks are drawn kLanes at a time (philox::draw_lanes), each
// once for its four elements.
template <typename T, typename Value>
void fill_from_philox(T* o, int64_t n, uint64_t seed, uint64_t offset, const Value& value) {
  if (offset % 4 != 0) {  // the generator hands out whole blocks, so only a caller of its own
    parallel_for(0, n, kParallelGrain + 1, [&](int64_t i) {
      o[i] = value(philox::word(seed, offset, static_cast<uint64_t>(i)));
    });
    return;
  }
  constexpr int kLanes = 16;
  constexpr int64_t kPerGroup = 4 * kLanes;
  const int64_t groups = (n + kPerGroup - 1) / kPerGroup;
  parallel_for(0, groups, kParallelGrain / kPerGroup + 1, [&](int64_t g) {
    uint32_t w[4][kLanes];
    philox::draw_lanes<kLanes>(seed, offset / 4 + static_cast<uint64_t>(g * kLanes), w);
    const int64_t first = g * kPerGroup, count = std::min<int64_t>(kPerGroup, n - first);
    for (int64_t e = 0; e < count; ++e) o[first + e] = value(w[e % 4][e / 4]);
  });
}

// out is contiguous (the ops layer guarantees it for random fills).
template <typename T>
void uniform(const Tensor& out, double low, double high, uint64_t seed, uint64_t offset) {
  const double span = high - low;
  fill_from_philox(ptr<T>(out), out.numel(), seed, offset,
                   [&](uint32_t w) { return uniform_value<T>(w, low, span); });
}

// What lt(rand(...), 1 - p).to(T) * (1 / (1 - p)) gives in one pass: the same
// uniform value compared and scaled in T.
// float32 at a block boundary takes the vectorised kernel, in tiles of whole blocks.
template <typename T>
void dropout_mask(const Tensor& out, double p, uint64_t seed, uint64_t offset) {
  const T keep = static_cast<T>(1 - p), scale = static_cast<T>(1.0 / (1 - p));
  T* o = ptr<T>(out);
  const int64_t n = out.numel();
  if constexpr (std::is_same_v<T, float>) {
    if (offset % 4 == 0) {
      constexpr int64_t kTile = 1024;  // elements, a multiple of 4
      parallel_for(0, (n + kTile - 1) / kTile, kParallelGrain / kTile + 1, [&](int64_t t) {
        const int64_t first = t * kTile;
        philox_dropout_mask_float(o + first, std::min(kTile, n - first), seed,
                                  offset / 4 + static_cast<uint64_t>(first / 4), keep, scale);
      });
      return;
    }
  }
  fill_from_philox(o, n, seed, offset,
                   [&](uint32_t w) { return uniform_value<T>(w, 0.0, 1.0) < keep ? scale : T(0); });
}

template <typename T>
void normal(const Tensor& out, double mean, double std, uint64_t seed, uint64_t offset) {
  T* o = ptr<T>(out);
  const int64_t n = out.numel();
  parallel_for(0, n, kParallelGrain / 8 + 1, [&](int64_t i) {
    o[i] = static_cast<T>(mean + std * philox::normal(seed, offset, static_cast<uint64_t>(i)));
  });
}

}  // namespace

void fill_elementwise_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    t.fill = fill<T>;
    t.copy = copy<T>;
    t.binary = binary<T>;
    if constexpr (!std::is_same_v<T, bool>) t.unary = unary<T>;
    if constexpr (std::is_floating_point_v<T>) {
      t.activation_backward = activation_backward;
      t.all_finite = all_finite<T>;
      t.uniform = uniform<T>;
      t.dropout_mask = dropout_mask<T>;
      t.normal = normal<T>;
    }
  });
}

}  // namespace lg::cpu
