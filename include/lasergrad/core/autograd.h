// The autograd graph and engine. Each recorded op adds a Node that holds the
// tensors its backward needs; backward() walks the graph from the outputs in
// reverse topological order, as micrograd does, and accumulates into .grad.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "grad_mode.h"
#include "tensor.h"

namespace lg {

class Node;

// Where a gradient goes: input `input_nr` of `node` (null node: nowhere).
struct Edge {
  std::shared_ptr<Node> node;
  int input_nr = 0;
  bool valid() const { return node != nullptr; }
};

// A tensor saved for backward, with the storage version it had when saved.
// A node's own output is saved without its grad_fn (no reference cycle) and
// re-linked to the node when unpacked, so double backward still sees it.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, bool is_output);
  Tensor unpack(const std::shared_ptr<Node>& owner) const;
  bool defined() const { return data_.defined(); }
  void reset() { data_ = Tensor(); }

 private:
  Tensor data_;
  uint64_t version_ = 0;
  bool is_output_ = false;
  bool requires_grad_ = false;
  int output_nr_ = 0;
};

// Shape, dtype and device of a node's input or output: for an output, to make
// a zero gradient where none arrived; for an input, to check the gradient the
// node's backward returns for it.
struct TensorMetadata {
  Shape shape;
  DType dtype = kFloat32;
  Device device;
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  explicit Node(std::string name);
  virtual ~Node();  // frees long chains iteratively (no deep recursion)
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const std::string& name() const { return name_; }
  uint64_t sequence_nr() const { return sequence_nr_; }
  // One edge per input of the forward op; invalid where no gradient is needed.
  std::vector<Edge>& next_edges() { return next_edges_; }
  bool needs_input_grad(size_t i) const { return i < next_edges_.size() && next_edges_[i].valid(); }
  std::vector<TensorMetadata>& output_meta() { return output_meta_; }
  // One entry per input, recorded with the next edges (empty where the edge
  // is invalid); the engine checks each returned gradient against it.
  const std::vector<TensorMetadata>& input_meta() const { return input_meta_; }
  // What the node was created from, for anomaly messages ("mul(float32[2,3], ...)").
  std::string& creation_context() { return creation_context_; }

  // Gradients w.r.t. the inputs from gradients w.r.t. the outputs (undefined
  // entries mean zero). Throws if the graph was already freed.
  std::vector<Tensor> run_backward(std::vector<Tensor> grad_outputs);
  // Frees saved tensors after a backward without retain_graph.
  void release();
  bool released() const { return released_; }
  // True if backward is a fused kernel that create_graph cannot differentiate.
  virtual bool has_fused_backward() const { return false; }

 protected:
  virtual std::vector<Tensor> apply(std::vector<Tensor> grad_outputs) = 0;
  virtual void release_saved() {}

 private:
  std::string name_;
  uint64_t sequence_nr_;
  std::vector<Edge> next_edges_;
  std::vector<TensorMetadata> output_meta_;
  std::vector<TensorMetadata> input_meta_;
  std::string creation_context_;
  bool released_ = false;
  friend bool collect_next_edges(Node& node, const std::vector<Tensor>& inputs);
};

// Fills a leaf's .grad. A leaf has one accumulator while any graph holds it
// (gradient_edge), so graphs backwarded from several threads at once that
// end in one leaf meet here, and the mutex serialises their additions.
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(Tensor variable);
  const Tensor& variable() const { return variable_; }

 protected:
  std::vector<Tensor> apply(std::vector<Tensor> grad_outputs) override;

 private:
  Tensor variable_;
  std::mutex mutex_;
};

// Gradient-ready hooks, as PyTorch's register_post_accumulate_grad_hook: `hook`
// runs during a backward right after the leaf's .grad has received every
// contribution of that backward (once per backward that reaches the leaf, a
// tied weight's uses summed first), on the thread running the backward, with
// grad mode as the backward has it. lg::grad(), which fills no .grad, runs none.
// The hook gets the leaf: it must not capture the leaf itself (the leaf owns
// its hooks, so that would keep it alive forever). Returns a handle for
// remove_post_accumulate_grad_hook. Throws lg::Error for a non-leaf or a leaf
// that does not require grad.
using PostAccumulateGradHook = std::function<void(const Tensor& leaf)>;
int64_t register_post_accumulate_grad_hook(const Tensor& leaf, PostAccumulateGradHook hook);
// Removes a hook; an unknown handle is ignored.
void remove_post_accumulate_grad_hook(const Tensor& leaf, int64_t handle);

// Runs `callback` when the backward running on this thread has run every node,
// before backward() returns (as PyTorch's queue_callback; e.g. to wait for the
// gradient communication that hooks started). Callbacks run in the order
// queued; one may queue another. None run when the backward throws. Throws
// lg::Error when no backward is running on this thread.
void queue_backward_callback(std::function<void()> callback);

// The edge a gradient for `t` flows into: its grad_fn, or its leaf accumulator.
Edge gradient_edge(const Tensor& t);

// Links `outputs` to `node`: sets grad_fn, output_nr, requires_grad, output meta.
void set_history(const std::vector<Tensor*>& outputs, const std::shared_ptr<Node>& node);

// Makes node's next edges from its inputs; returns true if any needs a gradient.
bool collect_next_edges(Node& node, const std::vector<Tensor>& inputs);

// True if grad mode is on and any input requires grad.
bool any_requires_grad(const std::vector<Tensor>& inputs);

struct GradOptions {
  bool retain_graph = false;
  bool create_graph = false;
};

// Runs backward from `outputs` with `grad_outputs` (undefined: ones for a
// scalar output), accumulating into the leaves' .grad.
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              bool retain_graph = false, bool create_graph = false);

// Functional form: returns d(outputs)/d(inputs) without touching .grad.
// An input that outputs do not depend on gets an undefined tensor.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         GradOptions options = {}, const std::vector<Tensor>& grad_outputs = {});

}  // namespace lg
