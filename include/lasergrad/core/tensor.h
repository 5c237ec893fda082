// Tensor: a cheap handle to an n-d strided view of a Storage, with autograd
// metadata. Views (view/reshape, transpose, permute, slice, expand,
// squeeze/unsqueeze) share storage. The convenience methods that compute
// (a.exp(), a.sum(), ...) are declared here and defined in ops/ — the one
// documented place where core points at ops (docs/design.md).
#pragma once
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "device.h"
#include "dtype.h"
#include "error.h"
#include "scalar.h"
#include "storage.h"

namespace lg {

using Shape = std::vector<int64_t>;
class Node;
struct TensorImpl;

struct TensorOptions {
  DType dtype = kFloat32;
  Device device = Device::cpu();
  bool requires_grad = false;
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor ("no tensor"), e.g. a missing gradient
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Uninitialised tensor with contiguous strides.
  // Throws lg::Error naming `op` when the shape has a negative dim, more
  // elements or bytes than int64 counts, or more bytes than the device has.
  static Tensor empty(const Shape& shape, DType dtype, Device device, const char* op = "empty");

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

  // metadata
  const Shape& shape() const;
  const Shape& strides() const;
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t dim() const;
  int64_t numel() const;
  int64_t storage_offset() const;
  DType dtype() const;
  Device device() const;
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const;
  uint64_t version() const;
  void bump_version() const;
  std::string describe() const;  // "float32[2,3] on cpu" for error messages

  // raw data (the element type must be the dtype's own: ElementType)
  void* raw_data() const;
  template <ElementType T>
  T* data_ptr() const {
    check_element_type(dtype_of<T>(), "data_ptr");
    return static_cast<T*>(raw_data());
  }

  // host access
  template <typename T>
  T item() const {
    return item_scalar().to<T>();
  }
  Scalar item_scalar() const;
  // The values converted to dtype_of<T>() (so T is an ElementType: int64_t for integers).
  template <ElementType T>
  std::vector<T> to_vector() const {
    Tensor c = to(Device::cpu()).to(dtype_of<T>()).contiguous();
    const T* p = static_cast<const T*>(c.raw_data());
    return std::vector<T>(p, p + c.numel());
  }

  // conversions and copies (differentiable)
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor detach() const;  // shares storage, cut from the graph

  // views (differentiable, share storage)
  Tensor view(const Shape& shape) const;
  Tensor reshape(const Shape& shape) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const { return transpose(0, 1); }
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor expand(const Shape& shape) const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;

  // math conveniences (defined in ops/)
  Tensor sum() const;
  Tensor sum(int64_t dim, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(int64_t dim, bool keepdim = false) const;
  Tensor max() const;
  Tensor max(int64_t dim, bool keepdim = false) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor neg() const;
  Tensor pow(const Scalar& exponent) const;
  Tensor matmul(const Tensor& other) const;
  Tensor add(const Tensor& other) const;  // same as *this + other
  bool all_finite() const;                // no NaN or Inf (floating dtypes)

  // in place: bump the version counter; not recorded by autograd
  Tensor& add_(const Tensor& other, const Scalar& alpha = 1);
  Tensor& add_(const Scalar& other);
  Tensor& sub_(const Tensor& other);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(const Scalar& other);
  Tensor& div_(const Scalar& other);
  Tensor& zero_();
  Tensor& fill_(const Scalar& value);
  Tensor& copy_(const Tensor& src);

  // autograd
  bool requires_grad() const;
  Tensor& requires_grad_(bool requires_grad = true);
  Tensor grad() const;
  void set_grad(const Tensor& grad) const;
  void zero_grad() const;  // resets .grad to undefined, as PyTorch's set_to_none
  const std::shared_ptr<Node>& grad_fn() const;
  int output_nr() const;
  bool is_leaf() const;
  void backward(const Tensor& gradient = {}, bool retain_graph = false,
                bool create_graph = false) const;

 private:
  void check_element_type(DType expected, const char* what) const;
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;  // in elements
  DType dtype = kFloat32;

  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;  // null for leaves
  int output_nr = 0;
  std::weak_ptr<Node> grad_accumulator;  // leaves: the node that fills .grad
  // Leaves: hooks run when backward has filled .grad (register_post_accumulate_grad_hook).
  std::vector<std::pair<int64_t, std::function<void(const Tensor&)>>> post_accumulate_grad_hooks;
};

Shape contiguous_strides(const Shape& shape);
// The element count of a shape; throws lg::Error naming `op` when a dim is
// negative or the count (or any contiguous stride: the product of the dims
// with zeros taken as ones) overflows int64.
int64_t checked_numel(const Shape& shape, const char* op);
int64_t shape_numel(const Shape& shape);  // checked_numel(shape, "numel")
// Wraps a possibly negative dim into [0, ndim); throws naming `op` when out of
// range, and for every dim of a 0-d tensor (ndim 0), which has none to index.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);
// The same for the ops that, as in PyTorch, read a 0-d tensor as one of shape
// [1] (reductions, softmax, cumsum, topk, squeeze, transpose, flatten): dim 0
// or -1 of a 0-d tensor gives 0. The caller must not index its shape with it.
int64_t wrap_dim_of_0d_as_1d(int64_t dim, int64_t ndim, const char* op);
// A new tensor viewing t's storage with another shape/strides/offset, no autograd.
Tensor make_view(const Tensor& t, Shape shape, Shape strides, int64_t offset);

std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace lg
