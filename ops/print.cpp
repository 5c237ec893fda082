// Printing a tensor (operator<< declared in core/tensor.h): PyTorch-like,
// defined here because it copies to the CPU and converts, which are ops.
#include <lasergrad/core/autograd.h>
#include <lasergrad/core/tensor.h>

#include <iomanip>
#include <ostream>
#include <string>

namespace lg {

// Printing: PyTorch-like, values with a shared format per tensor. Each dtype
// prints from its own element type, so int64 values above 2^53 stay exact.
namespace {
void print_element(std::ostream& os, double x) { os << std::setw(10) << std::setprecision(4) << x; }
void print_element(std::ostream& os, int64_t x) { os << x; }
void print_element(std::ostream& os, bool x) { os << (x ? "true" : "false"); }

template <typename T>
void print_rec(std::ostream& os, const std::vector<T>& v, const Shape& shape, size_t d,
               int64_t& pos, int indent) {
  if (d == shape.size()) {
    print_element(os, static_cast<T>(v[pos++]));
    return;
  }
  os << "[";
  int64_t n = shape[d];
  const int64_t kEdge = 3;
  for (int64_t i = 0; i < n; ++i) {
    if (n > 2 * kEdge + 1 && i == kEdge) {
      os << "...";
      int64_t skip = n - 2 * kEdge;
      int64_t inner = 1;
      for (size_t k = d + 1; k < shape.size(); ++k) inner *= shape[k];
      pos += skip * inner;
      i += skip - 1;
      if (i + 1 < n) os << (d + 1 == shape.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
      continue;
    }
    print_rec(os, v, shape, d + 1, pos, indent + 1);
    if (i + 1 < n) os << (d + 1 == shape.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << "]";
}

template <typename T>
void print_values(std::ostream& os, const Tensor& t) {
  std::vector<T> values = t.detach().to_vector<T>();
  int64_t pos = 0;
  print_rec(os, values, t.shape(), 0, pos, 7);
}
}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  os << "tensor(";
  if (t.dtype() == kInt64)
    print_values<int64_t>(os, t);
  else if (t.dtype() == kBool)
    print_values<bool>(os, t);
  else
    print_values<double>(os, t);
  os << ", shape=" << shape_str(t.shape()) << ", dtype=" << dtype_name(t.dtype());
  if (!t.device().is_cpu()) os << ", device=" << t.device();
  if (t.grad_fn()) os << ", grad_fn=" << t.grad_fn()->name();
  else if (t.requires_grad()) os << ", requires_grad=true";
  return os << ")";
}

}  // namespace lg
