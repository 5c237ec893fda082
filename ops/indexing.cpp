#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/factory.h>
#include <lasergrad/ops/indexing.h>
#include <lasergrad/ops/reduction.h>
#include <lasergrad/ops/view.h>

#include <algorithm>

#include "op_support.h"

namespace lg {
using detail::BackwardArgs;
using detail::grad_for;

namespace {

// A contiguous tensor's data seen as `shape`.
Tensor as_shape(const Tensor& t, const Shape& shape) {
  return make_view(t, shape, contiguous_strides(shape), t.storage_offset());
}

// A shape seen as [outer, size at dim, inner].
struct Around {
  int64_t outer = 1, n = 1, inner = 1;
};
Around around(const Shape& shape, int64_t dim) {
  Around a;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d)
    (d < dim ? a.outer : d == dim ? a.n : a.inner) *= shape[d];
  return a;
}

int64_t checked_dim(const char* op, const Tensor& x, int64_t dim) {
  detail::check_defined(x, op);
  LG_CHECK(x.dim() >= 1, op, ": expected an input of at least 1 dimension, got ", x.describe());
  return wrap_dim(dim, x.dim(), op);
}

// Checks that index is int64 on x's device, with every value in [0, size),
// before any kernel reads through it. Not on CUDA: reading the index back
// would stall the device on every step, so the CUDA kernels check each index
// and report the first bad one at the next synchronisation (docs/design.md).
void check_index(const char* op, const Tensor& index, const Tensor& x, int64_t dim, int64_t size) {
  detail::check_defined(index, op, "index");
  LG_CHECK(index.dtype() == kInt64, op, ": index must be int64, got ", index.describe());
  detail::check_same_device(x, index, op);
  if (index.numel() == 0 || index.device().is_cuda()) return;
  NoGradGuard no_grad;
  const int64_t lo = min(index).item<int64_t>(), hi = max(index).item<int64_t>();
  LG_CHECK(lo >= 0 && hi < size, op, ": index ", lo < 0 ? lo : hi,
           " is out of range for dimension ", dim, " with size ", size, " (input ", x.describe(),
           ")");
}

void check_same_dtype(const char* op, const char* what, const Tensor& t, const Tensor& x) {
  detail::check_defined(t, op, what);
  LG_CHECK(t.dtype() == x.dtype(), op, ": ", what, " ", t.describe(), " and input ", x.describe(),
           " have different dtypes");
  detail::check_same_device(x, t, op);
}

Tensor zeros_of(const detail::TensorMeta& m, const Tensor& like) {
  return zeros(m.shape, {.dtype = like.dtype(), .device = like.device()});
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  const int64_t d = checked_dim("index_select", x, dim);
  detail::check_defined(index, "index_select", "index");
  LG_CHECK(index.dim() <= 1, "index_select: index must be 0-d or 1-d, got ", index.describe());
  check_index("index_select", index, x, d, x.shape()[d]);
  auto fn = kernel(&KernelTable::index_select, x.device(), x.dtype(), "index_select");
  const Around a = around(x.shape(), d);
  const int64_t K = index.numel();
  Shape shape = x.shape();
  shape[d] = K;
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  fn(as_shape(out, {a.outer, K, a.inner}),
     as_shape(x.detach().contiguous(), {a.outer, a.n, a.inner}), index.contiguous());
  return detail::record("index_select", out, {x}, {{"index", index}},
                        [d, xm = detail::meta(x)](const BackwardArgs& c) {
                          Tensor g = index_add(zeros_of(xm, c.grad), d, c.saved("index"), c.grad);
                          return std::vector<Tensor>{grad_for(g, xm)};
                        });
}

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& source) {
  const int64_t d = checked_dim("index_add", x, dim);
  check_same_dtype("index_add", "source", source, x);
  detail::check_defined(index, "index_add", "index");
  LG_CHECK(index.dim() <= 1, "index_add: index must be 0-d or 1-d, got ", index.describe());
  Shape expected = x.shape();
  expected[d] = index.numel();
  LG_CHECK(source.shape() == expected, "index_add: source ", source.describe(),
           " should have shape ", shape_str(expected), " for input ", x.describe(), " and ",
           index.numel(), " indices");
  check_index("index_add", index, x, d, x.shape()[d]);
  auto fn = kernel(&KernelTable::index_add, x.device(), x.dtype(), "index_add");
  const Around a = around(x.shape(), d);
  Tensor out = x.detach().clone();
  fn(as_shape(out, {a.outer, a.n, a.inner}), index.contiguous(),
     as_shape(source.detach().contiguous(), {a.outer, index.numel(), a.inner}));
  return detail::record(
      "index_add", out, {x, source}, {{"index", index}},
      [d, xm = detail::meta(x), sm = detail::meta(source)](const BackwardArgs& c) {
        return std::vector<Tensor>{
            c.needs(0) ? grad_for(c.grad, xm) : Tensor(),
            c.needs(1) ? grad_for(index_select(c.grad, d, c.saved("index")), sm) : Tensor()};
      });
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  const int64_t d = checked_dim("gather", x, dim);
  detail::check_defined(index, "gather", "index");
  LG_CHECK(index.dim() == x.dim(), "gather: index ", index.describe(),
           " must have as many dimensions as input ", x.describe());
  for (int64_t k = 0; k < x.dim(); ++k)
    LG_CHECK(k == d || index.shape()[k] <= x.shape()[k], "gather: index ", index.describe(),
             " is larger than input ", x.describe(), " at dimension ", k);
  check_index("gather", index, x, d, x.shape()[d]);
  auto fn = kernel(&KernelTable::gather, x.device(), x.dtype(), "gather");
  Tensor out = Tensor::empty(index.shape(), x.dtype(), x.device());
  fn(out, x.detach(), d, index.contiguous());
  return detail::record("gather", out, {x}, {{"index", index}},
                        [d, xm = detail::meta(x)](const BackwardArgs& c) {
                          Tensor g = scatter_add(zeros_of(xm, c.grad), d, c.saved("index"), c.grad);
                          return std::vector<Tensor>{grad_for(g, xm)};
                        });
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  const int64_t d = checked_dim("scatter_add", x, dim);
  check_same_dtype("scatter_add", "src", src, x);
  detail::check_defined(index, "scatter_add", "index");
  LG_CHECK(index.dim() == x.dim() && src.dim() == x.dim(), "scatter_add: index ", index.describe(),
           " and src ", src.describe(), " must have as many dimensions as input ", x.describe());
  for (int64_t k = 0; k < x.dim(); ++k) {
    LG_CHECK(index.shape()[k] <= src.shape()[k], "scatter_add: index ", index.describe(),
             " is larger than src ", src.describe(), " at dimension ", k);
    LG_CHECK(k == d || index.shape()[k] <= x.shape()[k], "scatter_add: index ", index.describe(),
             " is larger than input ", x.describe(), " at dimension ", k);
  }
  check_index("scatter_add", index, x, d, x.shape()[d]);
  auto fn = kernel(&KernelTable::scatter_add, x.device(), x.dtype(), "scatter_add");
  Tensor out = x.detach().clone();
  // Only src's leading index-shaped block is read.
  Tensor block = make_view(src.detach(), index.shape(), src.strides(), src.storage_offset());
  fn(out, d, index.contiguous(), block);
  return detail::record(
      "scatter_add", out, {x, src}, {{"index", index}},
      [d, xm = detail::meta(x), sm = detail::meta(src)](const BackwardArgs& c) {
        Tensor gs;
        if (c.needs(1)) {
          gs = gather(c.grad, d, c.saved("index"));
          if (gs.shape() != sm.shape) {  // zeros for the src positions never read
            std::vector<int64_t> pads;
            for (int64_t k = gs.dim() - 1; k >= 0; --k)
              pads.insert(pads.end(), {0, sm.shape[k] - gs.shape()[k]});
            gs = pad(gs, pads);
          }
          gs = grad_for(gs, sm);
        }
        return std::vector<Tensor>{c.needs(0) ? grad_for(c.grad, xm) : Tensor(), gs};
      });
}

Tensor embedding(const Tensor& ids, const Tensor& table, std::optional<int64_t> padding_idx) {
  detail::check_defined(ids, "embedding", "ids");
  detail::check_defined(table, "embedding", "table");
  LG_CHECK(table.dim() == 2, "embedding: table must be 2-d [V, D], got ", table.describe());
  LG_CHECK(ids.dtype() == kInt64, "embedding: ids must be int64, got ", ids.describe());
  const int64_t V = table.shape()[0], D = table.shape()[1];
  if (padding_idx) {
    LG_CHECK(*padding_idx >= -V && *padding_idx < V, "embedding: padding_idx ", *padding_idx,
             " is out of range for table ", table.describe());
    if (*padding_idx < 0) *padding_idx += V;
  }
  check_index("embedding", ids, table, 0, V);
  auto fn = kernel(&KernelTable::index_select, table.device(), table.dtype(), "embedding");
  const int64_t K = ids.numel();
  Shape shape = ids.shape();
  shape.push_back(D);
  Tensor out = Tensor::empty(shape, table.dtype(), table.device());
  Tensor flat_ids = as_shape(ids.contiguous(), {K});
  detail::ReportAs report_as("embedding");  // its index_select kernel's deferred errors
  fn(as_shape(out, {1, K, D}), as_shape(table.detach().contiguous(), {1, V, D}), flat_ids);
  return detail::record(
      "embedding", out, {table}, {{"indices", flat_ids}},
      [D, padding_idx, tm = detail::meta(table)](const BackwardArgs& c) {
        const Tensor& idx = c.saved("indices");
        Tensor g = c.grad.reshape({-1, D});
        if (padding_idx) {
          Tensor pad_id = detail::scalar_tensor(*padding_idx, kInt64, idx.device());
          g = g * ne(idx, pad_id).to(g.dtype()).unsqueeze(1);
        }
        return std::vector<Tensor>{grad_for(index_add(zeros_of(tm, g), 0, idx, g), tm)};
      });
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  LG_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  for (const Tensor& t : tensors) detail::check_defined(t, "stack");
  const Shape& first = tensors[0].shape();
  for (size_t i = 1; i < tensors.size(); ++i)
    LG_CHECK(tensors[i].shape() == first, "stack: tensor ", i, " is ", tensors[i].describe(),
             " but tensor 0 is ", tensors[0].describe(), "; stack needs equal shapes");
  const int64_t d = wrap_dim(dim, static_cast<int64_t>(first.size()) + 1, "stack");
  std::vector<Tensor> parts;
  for (const Tensor& t : tensors) parts.push_back(t.unsqueeze(d));
  return cat(parts, d);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& split_sizes, int64_t dim) {
  const int64_t d = checked_dim("split", x, dim);
  int64_t total = 0;
  for (int64_t s : split_sizes) {
    LG_CHECK(s >= 0, "split: split sizes must be non-negative, got ", shape_str(split_sizes));
    total += s;
  }
  LG_CHECK(total == x.shape()[d], "split: split sizes ", shape_str(split_sizes), " do not sum to ",
           x.shape()[d], ", the size of dimension ", d, " of ", x.describe());
  std::vector<Tensor> parts;
  int64_t offset = 0;
  for (int64_t s : split_sizes) {
    parts.push_back(x.slice(d, offset, offset + s));
    offset += s;
  }
  return parts;
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  const int64_t d = checked_dim("split", x, dim);
  const int64_t n = x.shape()[d];
  LG_CHECK(split_size > 0 || (split_size == 0 && n == 0),
           "split: split_size must be positive, got ", split_size, " for ", x.describe());
  std::vector<int64_t> sizes;
  for (int64_t offset = 0; offset < n; offset += split_size)
    sizes.push_back(std::min(split_size, n - offset));
  if (sizes.empty()) sizes.push_back(0);  // an empty dim still gives one (empty) piece
  return split(x, sizes, d);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  LG_CHECK(chunks > 0, "chunk: the number of chunks must be positive, got ", chunks);
  const int64_t d = checked_dim("chunk", x, dim);
  const int64_t n = x.shape()[d];
  return split(x, std::max<int64_t>((n + chunks - 1) / chunks, 1), d);
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, const Scalar& value) {
  detail::check_defined(x, "pad");
  LG_CHECK(pads.size() % 2 == 0, "pad: pads must come in (low, high) pairs, got ", shape_str(pads));
  const int64_t padded = static_cast<int64_t>(pads.size() / 2);
  LG_CHECK(padded <= x.dim(), "pad: pads ", shape_str(pads), " name ", padded,
           " dimensions but the input is ", x.describe());
  Shape shape = x.shape();
  for (int64_t i = 0; i < padded; ++i) {
    const int64_t d = x.dim() - 1 - i, lo = pads[2 * i], hi = pads[2 * i + 1];
    LG_CHECK(std::max<int64_t>(0, -lo) + std::max<int64_t>(0, -hi) <= shape[d], "pad: pads ",
             shape_str(pads), " crop more than dimension ", d, " of ", x.describe(), " holds");
    shape[d] += lo + hi;
  }
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  {
    NoGradGuard no_grad;
    out.fill_(value);
    Tensor dst = out, src = x.detach();
    for (int64_t i = 0; i < padded; ++i) {
      const int64_t d = x.dim() - 1 - i, lo = pads[2 * i], hi = pads[2 * i + 1];
      const int64_t begin = std::max<int64_t>(0, -lo),
                    end = x.shape()[d] - std::max<int64_t>(0, -hi);
      src = src.slice(d, begin, end);
      dst = dst.slice(d, std::max<int64_t>(0, lo), std::max<int64_t>(0, lo) + end - begin);
    }
    dst.copy_(src);
  }
  std::vector<int64_t> inverse;
  for (int64_t p : pads) inverse.push_back(-p);
  // Cropping what was padded and padding (with zeros) what was cropped is the gradient.
  return detail::record("pad", out, {x}, {},
                        [inverse, xm = detail::meta(x)](const BackwardArgs& c) {
                          return std::vector<Tensor>{grad_for(pad(c.grad, inverse), xm)};
                        });
}

Tensor repeat(const Tensor& x, const std::vector<int64_t>& repeats) {
  detail::check_defined(x, "repeat");
  LG_CHECK(repeats.size() >= static_cast<size_t>(x.dim()), "repeat: ", repeats.size(),
           " repeats for ", x.describe(), "; need at least one per dimension");
  for (int64_t r : repeats)
    LG_CHECK(r >= 0, "repeat: repeats must be non-negative, got ", shape_str(repeats));
  const size_t lead = repeats.size() - x.dim();
  Shape split_shape, expanded, result;
  for (size_t i = 0; i < repeats.size(); ++i) {
    const int64_t s = i < lead ? 1 : x.shape()[i - lead];
    split_shape.insert(split_shape.end(), {1, s});
    expanded.insert(expanded.end(), {repeats[i], s});
    int64_t repeated = 0;
    LG_CHECK(!__builtin_mul_overflow(repeats[i], s, &repeated), "repeat: repeating ", x.describe(),
             " ", shape_str(repeats), " times has more elements than int64 can count");
    result.push_back(repeated);
  }
  Tensor out = x.reshape(split_shape).expand(expanded).reshape(result);
  // Like PyTorch's repeat, the result owns its memory even where a view would do.
  return out.storage() == x.storage() ? out.clone() : out;
}

}  // namespace lg
