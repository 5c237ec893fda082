#include <lasergrad/core/autograd.h>

#include <algorithm>
#include <atomic>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "hooks.h"

namespace lg {

// ---- saved tensors ---------------------------------------------------------

SavedTensor::SavedTensor(const Tensor& t, bool is_output) {
  if (!t.defined()) return;
  is_output_ = is_output;
  data_ = is_output ? t.detach() : t;
  version_ = t.version();
  requires_grad_ = t.requires_grad();
  output_nr_ = t.output_nr();
}

Tensor SavedTensor::unpack(const std::shared_ptr<Node>& owner) const {
  if (!data_.defined()) return Tensor();
  LG_CHECK(data_.version() == version_, "backward: a tensor saved by '", owner->name(), "' (",
           data_.describe(), ") was modified by an in-place operation (version ", version_,
           " when saved, now ", data_.version(),
           "); use an out-of-place op or clone() the tensor before modifying it");
  if (!is_output_ || !requires_grad_) return data_;
  Tensor out = make_view(data_, data_.shape(), data_.strides(), data_.storage_offset());
  out.impl()->requires_grad = true;
  out.impl()->grad_fn = owner;
  out.impl()->output_nr = output_nr_;
  return out;
}

// ---- nodes -----------------------------------------------------------------

namespace {
std::atomic<uint64_t> next_sequence_nr{0};

Tensor zeros_for(const TensorMetadata& m) {
  Tensor z = Tensor::empty(m.shape, m.dtype, m.device);
  detail::op_hooks("backward").fill_inplace(z, 0);
  return z;
}
}  // namespace

Node::Node(std::string name) : name_(std::move(name)), sequence_nr_(next_sequence_nr++) {}

// Dropping the last reference to the head of a long chain (say 10^5 ops)
// would destroy node after node recursively and overflow the stack. Instead
// the outermost destructor collects the nodes below and frees them one at a
// time; nested destructors only hand over their edges.
Node::~Node() {
  thread_local bool tearing_down = false;
  thread_local std::vector<std::shared_ptr<Node>> pending;
  for (Edge& e : next_edges_)
    if (e.node) pending.push_back(std::move(e.node));
  next_edges_.clear();
  if (tearing_down) return;
  tearing_down = true;
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    n.reset();  // may run a nested destructor that appends to pending
  }
  tearing_down = false;
}

std::vector<Tensor> Node::run_backward(std::vector<Tensor> grad_outputs) {
  LG_CHECK(!released_, "backward: trying to backward through the graph a second time (at op '",
           name_,
           "'); its saved tensors were freed by the first backward. Pass "
           "retain_graph=true to the first backward if you need to backward twice");
  for (size_t i = 0; i < grad_outputs.size() && i < output_meta_.size(); ++i)
    if (!grad_outputs[i].defined()) grad_outputs[i] = zeros_for(output_meta_[i]);
  return apply(std::move(grad_outputs));
}

void Node::release() {
  release_saved();
  released_ = true;
}

namespace {
void run_post_accumulate_grad_hooks(const Tensor& leaf);  // below
}  // namespace

AccumulateGrad::AccumulateGrad(Tensor variable)
    : Node("AccumulateGrad"), variable_(std::move(variable)) {}

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor> grad_outputs) {
  Tensor g = std::move(grad_outputs[0]);
  LG_CHECK(g.shape() == variable_.shape(), "backward: gradient of shape ", shape_str(g.shape()),
           " for a leaf of shape ", shape_str(variable_.shape()));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Tensor current = variable_.grad();
    if (GradMode::is_enabled()) {  // create_graph: keep the gradient's own graph
      variable_.set_grad(current.defined() ? detail::op_hooks("backward").add(current, g) : g);
    } else if (!current.defined()) {
      // Keep the gradient itself only if nothing else can see its memory.
      bool exclusive = g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 &&
                       g.is_contiguous() && !g.requires_grad();
      variable_.set_grad(exclusive ? g : detail::op_hooks("backward").clone(g.detach()));
    } else {
      detail::op_hooks("backward").add_inplace(current, g);
    }
  }
  run_post_accumulate_grad_hooks(variable_);
  return {};
}

// ---- gradient-ready hooks and end-of-backward callbacks ----------------------

namespace {
// Guards every leaf's hook list: hooks may be added on one thread while
// another thread's backward runs them.
std::mutex& hook_mutex() {
  static std::mutex m;
  return m;
}

// The callbacks queued during the backward running on this thread (null when
// none runs).
thread_local std::vector<std::function<void()>>* current_backward_callbacks = nullptr;

void run_post_accumulate_grad_hooks(const Tensor& leaf) {
  std::vector<PostAccumulateGradHook> hooks;
  {
    std::lock_guard<std::mutex> lock(hook_mutex());
    for (const auto& [handle, hook] : leaf.impl()->post_accumulate_grad_hooks)
      hooks.push_back(hook);
  }
  for (const PostAccumulateGradHook& hook : hooks) hook(leaf);
}
}  // namespace

int64_t register_post_accumulate_grad_hook(const Tensor& leaf, PostAccumulateGradHook hook) {
  LG_CHECK(leaf.defined(), "register_post_accumulate_grad_hook: undefined tensor");
  LG_CHECK(leaf.is_leaf() && leaf.requires_grad(), "register_post_accumulate_grad_hook: ",
           leaf.describe(), " is ", leaf.is_leaf() ? "a leaf that does not require grad" : "not a leaf",
           "; gradient-ready hooks go on leaves that require grad (parameters)");
  LG_CHECK(hook != nullptr, "register_post_accumulate_grad_hook: empty hook");
  static std::atomic<int64_t> next_handle{1};
  const int64_t handle = next_handle++;
  std::lock_guard<std::mutex> lock(hook_mutex());
  leaf.impl()->post_accumulate_grad_hooks.emplace_back(handle, std::move(hook));
  return handle;
}

void remove_post_accumulate_grad_hook(const Tensor& leaf, int64_t handle) {
  if (!leaf.defined()) return;
  std::lock_guard<std::mutex> lock(hook_mutex());
  auto& hooks = leaf.impl()->post_accumulate_grad_hooks;
  std::erase_if(hooks, [handle](const auto& entry) { return entry.first == handle; });
}

void queue_backward_callback(std::function<void()> callback) {
  LG_CHECK(current_backward_callbacks != nullptr,
           "queue_backward_callback: no backward is running on this thread");
  LG_CHECK(callback != nullptr, "queue_backward_callback: empty callback");
  current_backward_callbacks->push_back(std::move(callback));
}

namespace {
// Makes queue_backward_callback collect into this backward's list for the
// scope, restoring the outer one (a backward run from inside a hook).
class BackwardCallbackScope {
 public:
  BackwardCallbackScope() : outer_(current_backward_callbacks) {
    current_backward_callbacks = &callbacks_;
  }
  ~BackwardCallbackScope() { current_backward_callbacks = outer_; }
  BackwardCallbackScope(const BackwardCallbackScope&) = delete;
  BackwardCallbackScope& operator=(const BackwardCallbackScope&) = delete;
  // Runs the callbacks, including those they queue.
  void run() {
    for (size_t i = 0; i < callbacks_.size(); ++i) {
      std::function<void()> callback = std::move(callbacks_[i]);
      callback();
    }
    callbacks_.clear();
  }

 private:
  std::vector<std::function<void()>>* outer_;
  std::vector<std::function<void()>> callbacks_;
};
}  // namespace

// ---- graph edges -------------------------------------------------------------

namespace {
// Threads recording ops on one leaf at once must get the same accumulator
// (else each would fill .grad on its own, unserialised), so a leaf's
// accumulator is looked up and made under this lock.
std::mutex& accumulator_mutex() {
  static std::mutex m;
  return m;
}
}  // namespace

Edge gradient_edge(const Tensor& t) {
  if (!t.defined()) return {};
  if (t.grad_fn()) return {t.grad_fn(), t.output_nr()};
  if (!t.requires_grad()) return {};
  TensorImpl* impl = t.impl();
  std::lock_guard<std::mutex> lock(accumulator_mutex());
  std::shared_ptr<Node> acc = impl->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t);
    impl->grad_accumulator = acc;
  }
  return {acc, 0};
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::is_enabled()) return false;
  return std::any_of(inputs.begin(), inputs.end(),
                     [](const Tensor& t) { return t.requires_grad(); });
}

bool collect_next_edges(Node& node, const std::vector<Tensor>& inputs) {
  bool any = false;
  node.next_edges().clear();
  node.input_meta_.clear();
  for (const Tensor& t : inputs) {
    node.next_edges().push_back(gradient_edge(t));
    bool valid = node.next_edges().back().valid();
    node.input_meta_.push_back(valid ? TensorMetadata{t.shape(), t.dtype(), t.device()}
                                     : TensorMetadata{});
    any = any || valid;
  }
  return any;
}

void set_history(const std::vector<Tensor*>& outputs, const std::shared_ptr<Node>& node) {
  node->output_meta().clear();
  for (size_t i = 0; i < outputs.size(); ++i) {
    TensorImpl* impl = outputs[i]->impl();
    impl->requires_grad = true;
    impl->grad_fn = node;
    impl->output_nr = static_cast<int>(i);
    node->output_meta().push_back({impl->shape, impl->dtype, outputs[i]->device()});
  }
}

// ---- engine ----------------------------------------------------------------

namespace {

std::string describe(DType dtype, const Shape& shape, Device device) {
  return std::string(dtype_name(dtype)) + shape_str(shape) + " on " + device.str();
}

// The gradient `node` returned for its input i, checked against that input's
// metadata as PyTorch's validate_outputs does. A wrong shape or device is a
// broken backward formula: passed on, it would be broadcast or summed away
// downstream and give a silently wrong answer. A dtype differing from the
// input's is converted to it, as PyTorch does.
Tensor validated_gradient(const Node& node, size_t i, Tensor g) {
  const TensorMetadata& m = node.input_meta()[i];
  LG_CHECK(g.shape() == m.shape && g.device() == m.device, "backward: '", node.name(),
           "' returned a gradient ", describe(g.dtype(), g.shape(), g.device()), " for its input ",
           i, ", which is ", describe(m.dtype, m.shape, m.device),
           "; a backward must return each gradient in its input's shape and on its device");
  return g.dtype() == m.dtype ? g : detail::op_hooks("backward").to_dtype(g, m.dtype);
}

struct CaptureSlot {
  Node* node;
  int input_nr;
};

// Runs the graph below `roots`. With captures, gradients arriving at the
// capture slots are returned instead of being accumulated into leaves.
std::vector<Tensor> run_engine(const std::vector<Edge>& roots, std::vector<Tensor> root_grads,
                               bool retain_graph, bool create_graph,
                               const std::vector<CaptureSlot>& captures) {
  const bool capture_mode = !captures.empty();
  // Discover the graph and count each node's incoming edges.
  std::unordered_map<Node*, int> dependencies;
  std::vector<std::shared_ptr<Node>> keep_alive;
  std::vector<Node*> order;  // discovery order, for the "needed" pass
  std::vector<Node*> stack;
  std::unordered_set<Node*> seen;
  for (const Edge& e : roots) {
    if (seen.insert(e.node.get()).second) {
      stack.push_back(e.node.get());
      keep_alive.push_back(e.node);
    }
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    order.push_back(n);
    for (const Edge& e : n->next_edges()) {
      if (!e.valid()) continue;
      ++dependencies[e.node.get()];
      if (seen.insert(e.node.get()).second) {
        stack.push_back(e.node.get());
        keep_alive.push_back(e.node);
      }
    }
  }

  // In capture mode, run only the nodes from which a capture slot is reachable.
  std::unordered_set<Node*> needed;
  if (capture_mode) {
    for (const CaptureSlot& c : captures) needed.insert(c.node);
    bool changed = true;
    while (changed) {
      changed = false;
      for (Node* n : order) {
        if (needed.count(n)) continue;
        for (const Edge& e : n->next_edges())
          if (e.valid() && needed.count(e.node.get())) {
            needed.insert(n);
            changed = true;
            break;
          }
      }
    }
  }

  std::unordered_map<Node*, std::vector<Tensor>> buffers;
  auto add_to_buffer = [&](Node* n, int input_nr, Tensor g) {
    auto& buf = buffers[n];
    size_t need = std::max<size_t>(n->output_meta().size(), static_cast<size_t>(input_nr) + 1);
    if (buf.size() < need) buf.resize(need);
    Tensor& slot = buf[input_nr];
    slot = slot.defined() ? detail::op_hooks("backward").add(slot, g) : std::move(g);
  };
  for (size_t i = 0; i < roots.size(); ++i)
    add_to_buffer(roots[i].node.get(), roots[i].input_nr, std::move(root_grads[i]));

  auto later_first = [](Node* a, Node* b) { return a->sequence_nr() < b->sequence_nr(); };
  std::priority_queue<Node*, std::vector<Node*>, decltype(later_first)> ready(later_first);
  for (const Edge& e : roots)
    if (dependencies[e.node.get()] == 0) ready.push(e.node.get());
  std::unordered_set<Node*> queued;

  std::vector<Tensor> captured(captures.size());
  GradModeGuard mode(create_graph);
  BackwardCallbackScope callbacks;
  while (!ready.empty()) {
    Node* node = ready.top();
    ready.pop();
    if (!queued.insert(node).second) continue;
    std::vector<Tensor> grads = std::move(buffers[node]);
    buffers.erase(node);
    for (size_t c = 0; c < captures.size(); ++c)
      if (captures[c].node == node && static_cast<size_t>(captures[c].input_nr) < grads.size())
        captured[c] = grads[captures[c].input_nr];
    bool is_leaf_node = dynamic_cast<AccumulateGrad*>(node) != nullptr;
    if (capture_mode && (is_leaf_node || !needed.count(node))) continue;

    if (grads.size() < node->output_meta().size()) grads.resize(node->output_meta().size());
    std::vector<Tensor> input_grads = node->run_backward(std::move(grads));
    if (!retain_graph && !is_leaf_node) node->release();
    if (is_leaf_node) continue;
    LG_CHECK(input_grads.size() == node->next_edges().size(), "backward: '", node->name(),
             "' returned ", input_grads.size(), " gradients for ", node->next_edges().size(),
             " inputs");
    LG_CHECK(node->input_meta().size() == node->next_edges().size(), "backward: '", node->name(),
             "' has ", node->next_edges().size(), " edges but metadata for ",
             node->input_meta().size(), " inputs (its edges were not made by collect_next_edges)");

    for (size_t i = 0; i < input_grads.size(); ++i) {
      const Edge& e = node->next_edges()[i];
      if (!e.valid()) continue;
      if (input_grads[i].defined())
        input_grads[i] = validated_gradient(*node, i, std::move(input_grads[i]));
      Tensor& g = input_grads[i];
      if (g.defined() && is_anomaly_enabled() && is_floating(g.dtype()) &&
          !detail::op_hooks("detect_anomaly").all_finite(g)) {
        detail::fail("detect_anomaly: backward of '", node->name(), "' returned NaN or Inf in ",
                     "the gradient for its input ", i, " (", g.describe(), ")",
                     node->creation_context().empty() ? "" : "; the op was created as ",
                     node->creation_context());
      }
      if (g.defined()) add_to_buffer(e.node.get(), e.input_nr, std::move(g));
      if (--dependencies[e.node.get()] == 0) ready.push(e.node.get());
    }
  }
  callbacks.run();
  return captured;
}

std::vector<Tensor> root_gradients(const std::vector<Tensor>& outputs,
                                   const std::vector<Tensor>& grad_outputs, const char* op) {
  LG_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), op, ": got ",
           grad_outputs.size(), " gradients for ", outputs.size(), " outputs");
  std::vector<Tensor> grads;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    LG_CHECK(out.defined(), op, ": output ", i, " is an undefined tensor");
    LG_CHECK(out.requires_grad(), op, ": output ", i, " (", out.describe(),
             ") does not require grad and has no grad_fn");
    Tensor g = grad_outputs.empty() ? Tensor() : grad_outputs[i];
    if (!g.defined()) {
      LG_CHECK(out.numel() == 1, op, ": grad can be implicitly created only for scalar outputs, ",
               "but the output is ", out.describe(), "; pass a gradient of the same shape");
      g = Tensor::empty(out.shape(), out.dtype(), out.device());
      detail::op_hooks(op).fill_inplace(g, 1);
    } else {
      LG_CHECK(g.shape() == out.shape(), op, ": gradient ", g.describe(),
               " does not match the output ", out.describe());
      LG_CHECK(g.device() == out.device(), op, ": gradient on ", g.device().str(),
               " for an output on ", out.device().str());
      // As for every gradient a node returns (validated_gradient), and as PyTorch.
      if (g.dtype() != out.dtype()) g = detail::op_hooks(op).to_dtype(g, out.dtype());
    }
    grads.push_back(std::move(g));
  }
  return grads;
}

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
              bool retain_graph, bool create_graph) {
  std::vector<Tensor> grads = root_gradients(outputs, grad_outputs, "backward");
  std::vector<Edge> roots;
  for (const Tensor& out : outputs) roots.push_back(gradient_edge(out));
  run_engine(roots, std::move(grads), retain_graph || create_graph, create_graph, {});
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         GradOptions options, const std::vector<Tensor>& grad_outputs) {
  std::vector<Tensor> grads = root_gradients(outputs, grad_outputs, "grad");
  std::vector<Edge> roots;
  for (const Tensor& out : outputs) roots.push_back(gradient_edge(out));
  std::vector<CaptureSlot> captures;
  std::vector<Edge> input_edges;  // keeps leaf accumulators alive during the run
  for (size_t i = 0; i < inputs.size(); ++i) {
    LG_CHECK(inputs[i].requires_grad(), "grad: input ", i, " (", inputs[i].describe(),
             ") does not require grad");
    input_edges.push_back(gradient_edge(inputs[i]));
    captures.push_back({input_edges.back().node.get(), input_edges.back().input_nr});
  }
  if (captures.empty()) return {};
  return run_engine(roots, std::move(grads), options.retain_graph || options.create_graph,
                    options.create_graph, captures);
}

}  // namespace lg
