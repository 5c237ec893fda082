// Printing a tensor (operator<< declared in core/tensor.h): PyTorch-like,
// defined here because it copies to the CPU and converts, which are ops.
#include <lasergrad/core/autograd.h>
#include <lasergrad/core/tensor.h>

#include <iomanip>
#include <ostream>
#include <string>

namespace lg {

// Printing: PyTorch-like, values with a shared format per tensor.
namespace {
void print_rec(std::ostream& os, const std::vector<double>& v, const Shape& shape, size_t d,
               int64_t& pos, int indent, bool is_int, bool is_bool) {
  if (d == shape.size()) {
    double x = v[pos++];
    if (is_bool)
      os << (x != 0 ? "true" : "false");
    else if (is_int)
      os << static_cast<int64_t>(x);
    else
      os << std::setw(10) << std::setprecision(4) << x;
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
    print_rec(os, v, shape, d + 1, pos, indent + 1, is_int, is_bool);
    if (i + 1 < n) os << (d + 1 == shape.size() ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << "]";
}
}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  std::vector<double> values = t.detach().to_vector<double>();
  int64_t pos = 0;
  os << "tensor(";
  print_rec(os, values, t.shape(), 0, pos, 7, t.dtype() == kInt64, t.dtype() == kBool);
  os << ", shape=" << shape_str(t.shape()) << ", dtype=" << dtype_name(t.dtype());
  if (!t.device().is_cpu()) os << ", device=" << t.device();
  if (t.grad_fn())
    os << ", grad_fn=" << t.grad_fn()->name();
  else if (t.requires_grad())
    os << ", requires_grad=true";
  return os << ")";
}

}  // namespace lg
