// What core needs from the layers above it, as function pointers that those
// layers install at start-up (lg::init in runtime/). Core calls through this
// table and never links to ops/, backends/ or runtime/: the layers above depend
// on core, never the other way round (checked by the `layering:` test).
#pragma once
#include <lasergrad/core/scalar.h>
#include <lasergrad/core/tensor.h>

namespace lg::detail {

// Tensor operations the autograd engine uses, implemented in ops/ (they
// promote dtypes, broadcast and record graphs under create_graph as any op).
struct OpHooks {
  Tensor (*add)(const Tensor& a, const Tensor& b) = nullptr;  // differentiable a + b
  void (*add_inplace)(Tensor& self, const Tensor& other) = nullptr;
  Tensor (*clone)(const Tensor& t) = nullptr;
  Tensor (*to_dtype)(const Tensor& t, DType dtype) = nullptr;  // differentiable
  void (*fill_inplace)(Tensor& t, const Scalar& value) = nullptr;
  bool (*all_finite)(const Tensor& t) = nullptr;
};

// Installed once by the ops layer's start-up; throws naming `what` if a
// program uses core without it (core's objects alone, no lg::init).
void install_op_hooks(const OpHooks& hooks);
const OpHooks& op_hooks(const char* what);

// The start-up function (lg::init) that lookups of kernels and allocators run
// first, so that a program needs no explicit call. Set before main() by the
// runtime; null in a program built from core alone.
void set_initializer(void (*initialize)());
void ensure_initialized();

}  // namespace lg::detail
