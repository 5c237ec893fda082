// A program linked against lasergrad's core layer alone (no ops, backends or
// runtime): it links, and asking for a kernel or an allocator raises a clear
// lg::Error instead of reaching into layers it does not have.
#include <lasergrad/core/tensor.h>

#include <cstdio>
#include <string>

#include "core/kernels.h"

namespace {
bool raises(const char* what, void (*f)()) {
  try {
    f();
  } catch (const lg::Error& e) {
    std::printf("%s: lg::Error: %s\n", what, e.what());
    return true;
  }
  std::printf("%s: no error\n", what);
  return false;
}
}  // namespace

int main() {
  const bool ok =
      raises("Tensor::empty",
             [] {
               (void)lg::Tensor::empty({2, 3}, lg::kFloat32, lg::Device::cpu());
             }) &&
      raises("kernel_table", [] { (void)lg::kernel_table(lg::Device::cpu(), lg::kFloat32); });
  lg::Shape s = lg::contiguous_strides({2, 3});
  return ok && s == lg::Shape{3, 1} ? 0 : 1;
}
