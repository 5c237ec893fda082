#include <lasergrad/core/autograd.h>
#include <lasergrad/core/tensor.h>

#include <ostream>

namespace lg {

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= std::max<int64_t>(shape[i], 1);
  }
  return strides;
}

int64_t checked_numel(const Shape& shape, const char* op) {
  int64_t n = 1, strided = 1;
  for (int64_t s : shape) {
    LG_CHECK(s >= 0, op, ": negative dimension ", s, " in shape ", shape_str(shape));
    const bool overflow = __builtin_mul_overflow(n, s, &n) ||
                          __builtin_mul_overflow(strided, std::max<int64_t>(s, 1), &strided);
    LG_CHECK(!overflow, op, ": shape ", shape_str(shape),
             " has more elements than int64 can count (at most 2^63 - 1)");
  }
  return n;
}

int64_t shape_numel(const Shape& shape) { return checked_numel(shape, "numel"); }

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  LG_CHECK(ndim > 0, op, ": dimension ", dim, " given for a 0-d tensor, which has no dimensions");
  return wrap_dim_of_0d_as_1d(dim, ndim, op);
}

int64_t wrap_dim_of_0d_as_1d(int64_t dim, int64_t ndim, const char* op) {
  const int64_t n = std::max<int64_t>(ndim, 1);
  LG_CHECK(dim >= -n && dim < n, op, ": dimension ", dim, " out of range for a ", ndim,
           "-d tensor (expected in [", -n, ", ", n - 1, "])");
  return dim < 0 ? dim + n : dim;
}

namespace {
std::shared_ptr<Storage> storage_for(const Shape& shape, DType dtype, Device device,
                                     const char* op) {
  const int64_t numel = checked_numel(shape, op);
  int64_t nbytes = 0;
  LG_CHECK(!__builtin_mul_overflow(numel, static_cast<int64_t>(element_size(dtype)), &nbytes), op,
           ": a ", dtype_name(dtype), shape_str(shape),
           " tensor has more bytes than int64 can count");
  try {
    return std::make_shared<Storage>(static_cast<size_t>(nbytes), device);
  } catch (const Error& e) {  // out of memory: say for which tensor
    detail::fail(op, ": cannot allocate ", dtype_name(dtype), shape_str(shape), " (", nbytes,
                 " bytes): ", e.what());
  }
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device, const char* op) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = storage_for(shape, dtype, device, op);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor make_view(const Tensor& t, Shape shape, Shape strides, int64_t offset) {
  checked_numel(shape, "view");  // every view op's shape passes here
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.storage();
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = t.dtype();
  return Tensor(std::move(impl));
}

namespace {
TensorImpl& checked(const Tensor& t, const char* what) {
  LG_CHECK(t.defined(), what, ": called on an undefined tensor");
  return *t.impl();
}
}  // namespace

const Shape& Tensor::shape() const { return checked(*this, "shape").shape; }
const Shape& Tensor::strides() const { return checked(*this, "strides").strides; }
int64_t Tensor::dim() const { return static_cast<int64_t>(shape().size()); }
int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_dim(d, dim(), "stride")]; }
int64_t Tensor::numel() const { return shape_numel(shape()); }
int64_t Tensor::storage_offset() const { return checked(*this, "storage_offset").offset; }
DType Tensor::dtype() const { return checked(*this, "dtype").dtype; }
Device Tensor::device() const { return checked(*this, "device").storage->device(); }
const std::shared_ptr<Storage>& Tensor::storage() const { return checked(*this, "storage").storage; }
uint64_t Tensor::version() const { return storage()->version(); }
void Tensor::bump_version() const { storage()->bump_version(); }

bool Tensor::is_contiguous() const {
  const auto& sh = shape();
  const auto& st = strides();
  int64_t expected = 1;
  for (size_t i = sh.size(); i-- > 0;) {
    if (sh[i] == 1) continue;
    if (st[i] != expected) return false;
    expected *= sh[i];
  }
  return true;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined";
  return std::string(dtype_name(dtype())) + shape_str(shape()) +
         (device().is_cpu() ? "" : " on " + device().str());
}

void* Tensor::raw_data() const {
  const auto& impl = checked(*this, "data_ptr");
  return static_cast<char*>(impl.storage->data()) + impl.offset * element_size(impl.dtype);
}

void Tensor::check_element_type(DType expected, const char* what) const {
  LG_CHECK(dtype() == expected, what, ": tensor has dtype ", dtype_name(dtype()),
           " but the element type asked for is ", dtype_name(expected));
}

bool Tensor::requires_grad() const { return defined() && impl_->requires_grad; }

Tensor& Tensor::requires_grad_(bool requires_grad) {
  auto& impl = checked(*this, "requires_grad_");
  LG_CHECK(is_leaf() || requires_grad, "requires_grad_: can only change the flag of a leaf tensor; ",
           "use detach() to cut a non-leaf ", describe(), " from the graph");
  LG_CHECK(!requires_grad || is_floating(impl.dtype),
           "requires_grad_: only floating-point tensors can require gradients, got ", describe());
  impl.requires_grad = requires_grad;
  return *this;
}

Tensor Tensor::grad() const { return checked(*this, "grad").grad; }
void Tensor::set_grad(const Tensor& g) const { checked(*this, "set_grad").grad = g; }
void Tensor::zero_grad() const { checked(*this, "zero_grad").grad = Tensor(); }
const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked(*this, "grad_fn").grad_fn; }
int Tensor::output_nr() const { return checked(*this, "output_nr").output_nr; }
bool Tensor::is_leaf() const { return grad_fn() == nullptr; }

Tensor Tensor::detach() const {
  const auto& impl = checked(*this, "detach");
  return make_view(*this, impl.shape, impl.strides, impl.offset);
}

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  lg::backward({*this}, {gradient}, retain_graph, create_graph);
}

}  // namespace lg
