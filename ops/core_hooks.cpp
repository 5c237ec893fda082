// The ops layer's half of core's hooks table (core/hooks.h): the tensor
// operations the autograd engine needs, installed once from lg::init.
#include "core_hooks.h"

#include <lasergrad/ops/arithmetic.h>

#include "core/hooks.h"

namespace lg::detail {

void install_ops_into_core() {
  OpHooks hooks;
  hooks.add = [](const Tensor& a, const Tensor& b) { return a.add(b); };
  hooks.add_inplace = [](Tensor& self, const Tensor& other) { self.add_(other); };
  hooks.clone = [](const Tensor& t) { return t.clone(); };
  hooks.to_dtype = [](const Tensor& t, DType dtype) { return t.to(dtype); };
  hooks.fill_inplace = [](Tensor& t, const Scalar& value) { t.fill_(value); };
  hooks.all_finite = [](const Tensor& t) { return t.all_finite(); };
  install_op_hooks(hooks);
}

}  // namespace lg::detail
