#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/view.h>

#include <algorithm>
#include <numeric>
#include <optional>

#include "op_support.h"

namespace lg {
using detail::BackwardArgs;

namespace {

// A view with the given geometry whose gradient is the incoming gradient
// reshaped back (squeeze, unsqueeze, view, flatten).
Tensor reshaping_view(const char* name, const Tensor& a, Shape shape, Shape strides) {
  Tensor out = make_view(a, std::move(shape), std::move(strides), a.storage_offset());
  return detail::record(name, out, {a}, {}, [in = a.shape()](const BackwardArgs& c) {
    return std::vector<Tensor>{c.grad.reshape(in)};
  });
}

Shape infer_shape(const Shape& shape, int64_t numel, const Shape& from, const char* op) {
  Shape out = shape;
  int64_t known = 1;
  std::optional<size_t> infer;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      LG_CHECK(!infer, op, ": only one dimension can be -1, got ", shape_str(shape));
      infer = i;
    } else {
      LG_CHECK(out[i] >= 0, op, ": invalid dimension ", out[i], " in ", shape_str(shape));
      LG_CHECK(!__builtin_mul_overflow(known, out[i], &known), op, ": shape ", shape_str(shape),
               " has more elements than int64 can count");
    }
  }
  if (infer) {
    LG_CHECK(known > 0 && numel % known == 0, op, ": cannot reshape ", shape_str(from), " (",
             numel, " elements) into ", shape_str(shape));
    out[*infer] = numel / known;
  }
  LG_CHECK(checked_numel(out, op) == numel, op, ": cannot reshape ", shape_str(from), " (", numel,
           " elements) into ", shape_str(shape), " (", shape_numel(out), " elements)");
  return out;
}

// Strides for viewing (shape, strides) as new_shape without a copy, if possible
// (PyTorch's rule: each run of merged dims must be contiguous within itself).
std::optional<Shape> view_strides(const Shape& shape, const Shape& strides, const Shape& new_shape) {
  Shape out(new_shape.size());
  if (shape_numel(shape) == 0 || shape.empty() || new_shape.empty()) return contiguous_strides(new_shape);
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_base_stride = strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= shape[d];
    if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

}  // namespace

Tensor view(const Tensor& a, const Shape& shape) {
  detail::check_defined(a, "view");
  Shape target = infer_shape(shape, a.numel(), a.shape(), "view");
  auto strides = view_strides(a.shape(), a.strides(), target);
  LG_CHECK(strides.has_value(), "view: cannot view ", a.describe(), " with strides ",
           shape_str(a.strides()), " as ", shape_str(target),
           " without copying; call .contiguous() first or use reshape()");
  return reshaping_view("view", a, target, *strides);
}

Tensor reshape(const Tensor& a, const Shape& shape) {
  detail::check_defined(a, "reshape");
  Shape target = infer_shape(shape, a.numel(), a.shape(), "reshape");
  if (auto strides = view_strides(a.shape(), a.strides(), target))
    return reshaping_view("reshape", a, target, *strides);
  return view(a.contiguous(), target);
}

Tensor transpose(const Tensor& a, int64_t dim0, int64_t dim1) {
  detail::check_defined(a, "transpose");
  int64_t d0 = wrap_dim_of_0d_as_1d(dim0, a.dim(), "transpose");
  int64_t d1 = wrap_dim_of_0d_as_1d(dim1, a.dim(), "transpose");
  if (a.dim() == 0) return a;
  Shape shape = a.shape(), strides = a.strides();
  std::swap(shape[d0], shape[d1]);
  std::swap(strides[d0], strides[d1]);
  Tensor out = make_view(a, shape, strides, a.storage_offset());
  return detail::record("transpose", out, {a}, {}, [d0, d1](const BackwardArgs& c) {
    return std::vector<Tensor>{c.grad.transpose(d0, d1)};
  });
}

Tensor permute(const Tensor& a, const std::vector<int64_t>& dims) {
  detail::check_defined(a, "permute");
  LG_CHECK(static_cast<int64_t>(dims.size()) == a.dim(), "permute: got ", dims.size(),
           " dims for ", a.describe());
  Shape shape(dims.size()), strides(dims.size());
  std::vector<int64_t> inverse(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], a.dim(), "permute");
    LG_CHECK(inverse[d] == -1, "permute: dimension ", dims[i], " repeats in ", shape_str(dims));
    inverse[d] = static_cast<int64_t>(i);
    shape[i] = a.shape()[d];
    strides[i] = a.strides()[d];
  }
  Tensor out = make_view(a, shape, strides, a.storage_offset());
  return detail::record("permute", out, {a}, {}, [inverse](const BackwardArgs& c) {
    return std::vector<Tensor>{c.grad.permute(inverse)};
  });
}

Tensor slice(const Tensor& a, int64_t dim, int64_t start, int64_t end, int64_t step) {
  detail::check_defined(a, "slice");
  LG_CHECK(a.dim() > 0, "slice: cannot slice a 0-d tensor");
  int64_t d = wrap_dim(dim, a.dim(), "slice");
  LG_CHECK(step > 0, "slice: step must be positive, got ", step, " (for ", a.describe(), ")");
  int64_t n = a.shape()[d];
  // Python's clamping: negative indices count from the end; out of range clamps.
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape shape = a.shape(), strides = a.strides();
  shape[d] = (end - start + step - 1) / step;
  strides[d] *= step;
  Tensor out = make_view(a, shape, strides, a.storage_offset() + start * a.strides()[d]);
  return detail::record("slice", out, {a}, {},
                        [in = a.shape(), d, start, end, step](const BackwardArgs& c) {
                          return std::vector<Tensor>{slice_backward(c.grad, in, d, start, end, step)};
                        });
}

Tensor slice_backward(const Tensor& grad, const Shape& input_shape, int64_t dim, int64_t start,
                      int64_t end, int64_t step) {
  Tensor out = Tensor::empty(input_shape, grad.dtype(), grad.device());
  out.zero_();
  {
    NoGradGuard no_grad;
    out.slice(dim, start, end, step).copy_(grad);
  }
  return detail::record("slice_backward", out, {grad}, {},
                        [dim, start, end, step](const BackwardArgs& c) {
                          return std::vector<Tensor>{c.grad.slice(dim, start, end, step)};
                        });
}

Tensor expand(const Tensor& a, const Shape& shape) {
  detail::check_defined(a, "expand");
  LG_CHECK(shape.size() >= static_cast<size_t>(a.dim()), "expand: cannot expand ", a.describe(),
           " to fewer dimensions ", shape_str(shape));
  Shape target = shape;
  size_t lead = shape.size() - a.dim();
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      LG_CHECK(i >= lead, "expand: -1 is not allowed for a new leading dimension in ",
               shape_str(shape));
      target[i] = a.shape()[i - lead];
    }
    if (i >= lead) {
      int64_t s = a.shape()[i - lead];
      LG_CHECK(s == target[i] || s == 1, "expand: cannot expand ", a.describe(), " to ",
               shape_str(shape), " (dimension ", i, ": ", s, " vs ", target[i], ")");
    }
  }
  if (target == a.shape()) return a;
  Tensor out = detail::broadcast_view(a, target, "expand");
  return detail::record("expand", out, {a}, {}, [in = a.shape()](const BackwardArgs& c) {
    return std::vector<Tensor>{detail::sum_to(c.grad, in)};
  });
}

Tensor squeeze(const Tensor& a) {
  detail::check_defined(a, "squeeze");
  Shape shape, strides;
  for (int64_t i = 0; i < a.dim(); ++i)
    if (a.shape()[i] != 1) {
      shape.push_back(a.shape()[i]);
      strides.push_back(a.strides()[i]);
    }
  return reshaping_view("squeeze", a, shape, strides);
}

Tensor squeeze(const Tensor& a, int64_t dim) {
  detail::check_defined(a, "squeeze");
  int64_t d = wrap_dim_of_0d_as_1d(dim, a.dim(), "squeeze");
  if (a.dim() == 0) return a;
  if (a.shape()[d] != 1) return a;
  Shape shape = a.shape(), strides = a.strides();
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return reshaping_view("squeeze", a, shape, strides);
}

Tensor unsqueeze(const Tensor& a, int64_t dim) {
  detail::check_defined(a, "unsqueeze");
  int64_t d = wrap_dim(dim, a.dim() + 1, "unsqueeze");
  Shape shape = a.shape(), strides = a.strides();
  int64_t stride = d < a.dim() ? shape[d] * strides[d] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, stride);
  return reshaping_view("unsqueeze", a, shape, strides);
}

Tensor flatten(const Tensor& a, int64_t start_dim, int64_t end_dim) {
  detail::check_defined(a, "flatten");
  int64_t s = wrap_dim_of_0d_as_1d(start_dim, a.dim(), "flatten");
  int64_t e = wrap_dim_of_0d_as_1d(end_dim, a.dim(), "flatten");
  if (a.dim() == 0) return a.reshape({1});
  LG_CHECK(s <= e, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape shape(a.shape().begin(), a.shape().begin() + s);
  int64_t merged = 1;
  for (int64_t i = s; i <= e; ++i) merged *= a.shape()[i];
  shape.push_back(merged);
  shape.insert(shape.end(), a.shape().begin() + e + 1, a.shape().end());
  return a.reshape(shape);
}

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  LG_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  const Tensor& first = tensors[0];
  for (const Tensor& t : tensors) detail::check_defined(t, "cat");
  LG_CHECK(first.dim() > 0, "cat: zero-dimensional tensor ", first.describe(),
           " cannot be concatenated");
  int64_t d = wrap_dim(dim, first.dim(), "cat");
  DType dtype = first.dtype();
  Shape shape = first.shape();
  shape[d] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    detail::check_same_device(first, t, "cat");
    bool same = t.dim() == first.dim();
    for (int64_t k = 0; same && k < t.dim(); ++k)
      same = k == d || t.shape()[k] == first.shape()[k];
    LG_CHECK(same, "cat: tensor ", i, " has shape ", shape_str(t.shape()),
             " but tensor 0 has shape ", shape_str(first.shape()),
             "; all dimensions except ", d, " must match");
    shape[d] += t.shape()[d];
    dtype = promote_types(dtype, t.dtype());
  }
  Tensor out = Tensor::empty(shape, dtype, first.device());
  std::vector<int64_t> sizes;
  {
    NoGradGuard no_grad;
    int64_t offset = 0;
    for (const Tensor& t : tensors) {
      out.slice(d, offset, offset + t.shape()[d]).copy_(t.detach());
      offset += t.shape()[d];
      sizes.push_back(t.shape()[d]);
    }
  }
  std::vector<detail::TensorMeta> metas;
  for (const Tensor& t : tensors) metas.push_back(detail::meta(t));
  return detail::record("cat", out, tensors, {}, [d, sizes, metas](const BackwardArgs& c) {
    std::vector<Tensor> grads;
    int64_t offset = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      grads.push_back(c.needs(i) ? detail::grad_for(c.grad.slice(d, offset, offset + sizes[i]),
                                                    metas[i])
                                 : Tensor());
      offset += sizes[i];
    }
    return grads;
  });
}

// ---- Tensor methods: views and copies ----------------------------------------

Tensor Tensor::view(const Shape& shape) const { return lg::view(*this, shape); }
Tensor Tensor::reshape(const Shape& shape) const { return lg::reshape(*this, shape); }
Tensor Tensor::transpose(int64_t d0, int64_t d1) const { return lg::transpose(*this, d0, d1); }
Tensor Tensor::permute(const std::vector<int64_t>& dims) const { return lg::permute(*this, dims); }
Tensor Tensor::slice(int64_t dim, int64_t start, int64_t end, int64_t step) const {
  return lg::slice(*this, dim, start, end, step);
}
Tensor Tensor::select(int64_t dim, int64_t index) const {
  LG_CHECK(this->dim() > 0, "select: cannot be applied to a 0-d tensor ", describe());
  int64_t d = wrap_dim(dim, this->dim(), "select");
  int64_t n = shape()[d];
  LG_CHECK(index >= -n && index < n, "select: index ", index, " out of range for dimension ", dim,
           " of ", describe());
  if (index < 0) index += n;
  return lg::slice(*this, d, index, index + 1).squeeze(d);
}
Tensor Tensor::expand(const Shape& shape) const { return lg::expand(*this, shape); }
Tensor Tensor::squeeze() const { return lg::squeeze(*this); }
Tensor Tensor::squeeze(int64_t dim) const { return lg::squeeze(*this, dim); }
Tensor Tensor::unsqueeze(int64_t dim) const { return lg::unsqueeze(*this, dim); }
Tensor Tensor::flatten(int64_t s, int64_t e) const { return lg::flatten(*this, s, e); }

Tensor Tensor::clone() const {
  detail::check_defined(*this, "clone");
  Tensor out = Tensor::empty(shape(), dtype(), device());
  kernel(&KernelTable::copy, device(), dtype(), "clone")(out, *this);
  return detail::record("clone", out, {*this}, {}, [](const BackwardArgs& c) {
    return std::vector<Tensor>{c.grad};
  });
}

Tensor Tensor::contiguous() const {
  detail::check_defined(*this, "contiguous");
  return is_contiguous() ? *this : clone();
}

Tensor Tensor::to(DType dtype) const {
  detail::check_defined(*this, "to");
  if (dtype == this->dtype()) return *this;
  Tensor out = detail::cast_raw(*this, dtype);
  if (!is_floating(dtype)) return out;  // integer and bool results carry no gradient
  return detail::record("to", out, {*this}, {}, [from = this->dtype()](const BackwardArgs& c) {
    return std::vector<Tensor>{c.grad.to(from)};
  });
}

Tensor Tensor::to(Device device) const {
  detail::check_defined(*this, "to");
  if (device == this->device()) return *this;
  Tensor src = contiguous().detach();
  Tensor out = Tensor::empty(shape(), dtype(), device);
  Device accelerator = device.is_cpu() ? this->device() : device;
  auto copy = device_kernels(accelerator).copy_across_devices;
  LG_CHECK(copy != nullptr, "to: cannot copy ", describe(), " from ", this->device().str(), " to ",
           device.str());
  copy(out, src);
  return detail::record("to", out, {*this}, {}, [from = this->device()](const BackwardArgs& c) {
    return std::vector<Tensor>{c.grad.to(from)};
  });
}

}  // namespace lg
