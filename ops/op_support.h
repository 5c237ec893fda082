// Internal helpers shared by the op families: recording an op in the autograd
// graph, type promotion, broadcasting, and forward helpers that bypass
// autograd. Not part of the public API.
#pragma once
#include <lasergrad/core/autograd.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "../core/kernels.h"

namespace lg::detail {

// A tensor kept for backward under the name its formula reads it by, e.g.
// {"self", a}. Names are string literals: stored as pointers, never copied.
struct SavedSlot {
  const char* name;
  Tensor tensor;
};

// The name under which RecordOptions::save_output keeps the op's output.
inline constexpr const char* kSavedResult = "result";

struct BackwardArgs {
  const std::vector<const char*>& saved_names;  // as given to record()
  const std::vector<Tensor>& saved_tensors;     // unpacked, one per name
  const Tensor& grad;                           // gradient w.r.t. the op's output
  const Node& node;                             // node.needs_input_grad(i)
  bool needs(size_t i) const { return node.needs_input_grad(i); }
  // The tensor saved under `name` (a linear search over a few names: no
  // allocation); a name record() was not given is an lg::Error.
  const Tensor& saved(std::string_view name) const;
};
// Returns one gradient per input (an undefined Tensor where none is needed).
using BackwardFn = std::function<std::vector<Tensor>(const BackwardArgs&)>;

struct RecordOptions {
  bool save_output = false;  // save the op's output too, as saved(kSavedResult)
  // A backward that runs a fused kernel, which autograd cannot differentiate.
  // Under create_graph the node runs `composite` instead (a backward written
  // in differentiable ops, with the same saved tensors), or throws if none.
  bool fused_backward = false;
  BackwardFn composite = nullptr;
};

// A composite backward for a fused op: re-runs `forward` (differentiable ops)
// on the tensors saved under `inputs` (the op's inputs, in order) and differentiates it w.r.t. the inputs the node
// needs, with create_graph. Each slot goes through its own identity node, so
// a tensor passed in several slots (attention(x, x, x)) gets each slot's
// gradient there, not the total in every slot.
std::vector<Tensor> differentiate_composite(
    const BackwardArgs& args, const std::vector<const char*>& inputs,
    const std::function<Tensor(const std::vector<Tensor>&)>& forward);

// Links `out` into the graph as the result of `name` applied to `inputs`,
// if grad mode is on and an input requires grad; otherwise returns out as is.
// `saved` names what the backward reads (by c.saved(name)); an undefined
// tensor may be saved where the formula that reads it is not needed.
Tensor record(const char* name, Tensor out, const std::vector<Tensor>& inputs,
              const std::vector<SavedSlot>& saved, BackwardFn backward, RecordOptions options = {});

// PyTorch's result type of a binary op (zero-dim tensors and Python numbers
// only raise the category).
DType result_type(const Tensor& a, const Tensor& b);
DType result_type(const Tensor& a, const Scalar& s);

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// A view of t broadcast to `shape` (stride 0 along broadcast dims), no autograd.
Tensor broadcast_view(const Tensor& t, const Shape& shape, const char* op);
// t converted to dtype without recording autograd (returns t itself if equal).
Tensor cast_raw(const Tensor& t, DType dtype);
// A 0-d tensor holding s.
Tensor scalar_tensor(const Scalar& s, DType dtype, Device device);

void check_same_device(const Tensor& a, const Tensor& b, const char* op);
// For ops that write into an existing tensor (ops/memory_overlap.cpp), as
// PyTorch: dst may not have two elements at one memory location (an expanded
// view), and src (as the kernel reads it) may share memory with dst only as
// the exact same view, as in a.add_(a).
void check_no_internal_overlap(const Tensor& dst, const char* op);
void check_no_partial_overlap(const Tensor& dst, const Tensor& src, const char* op);
void check_defined(const Tensor& t, const char* op, const char* what = "input");

// What a backward needs to know of an input it does not keep.
struct TensorMeta {
  Shape shape;
  DType dtype = kFloat32;
};
inline TensorMeta meta(const Tensor& t) { return {t.shape(), t.dtype()}; }

// Reduces a broadcast gradient back to `shape` (summing broadcast dims).
Tensor sum_to(const Tensor& grad, const Shape& shape);
// The gradient for an input: summed to its shape and cast to its dtype.
Tensor grad_for(const Tensor& grad, const TensorMeta& input);
inline Tensor grad_for(const Tensor& grad, const Tensor& input) { return grad_for(grad, meta(input)); }

}  // namespace lg::detail
