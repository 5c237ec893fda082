// Indexing ops: embedding, index_select/index_add, gather/scatter_add (each
// pair the other's gradient), stack, split/chunk (views), constant pad, repeat.
#pragma once
#include <optional>
#include <vector>

#include "../core/tensor.h"

namespace lg {

// Rows of table [V, D] at ids (int64, any shape): ids.shape + [D]. Rows equal
// to padding_idx (negative counts from V) receive no gradient.
Tensor embedding(const Tensor& ids, const Tensor& table, std::optional<int64_t> padding_idx = {});

// x's slices at `index` (int64, 1-d) along dim.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// x with source's slice k added at slice index[k] along dim (repeats accumulate).
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& source);
// out[i][j] = x[index[i][j]][j] for dim 0 (and so on): out has index's shape.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// x with src[i][j] added at [index[i][j]][j] for dim 0 (and so on); src's
// positions beyond index's shape are ignored, as PyTorch's.
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);

// Joins equal-shaped tensors along a new dim.
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
// Views of x along dim: pieces of split_size (the last may be smaller), of
// the given sizes, or `chunks` pieces of ceil(size / chunks).
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& split_sizes,
                          int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);

// Constant padding; pads = {last_lo, last_hi, second_last_lo, ...} as
// PyTorch's F.pad; negative pads crop.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, const Scalar& value = 0);
// Tiles x repeats[d] times along each dim (PyTorch's Tensor.repeat); extra
// leading repeats add dims.
Tensor repeat(const Tensor& x, const std::vector<int64_t>& repeats);

}  // namespace lg
