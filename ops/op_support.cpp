#include "op_support.h"

#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/reduction.h>

#include <sstream>

namespace lg::detail {
namespace {

class OpNode : public Node {
 public:
  OpNode(const char* name, BackwardFn fn, bool fused, BackwardFn composite)
      : Node(name), fn_(std::move(fn)), composite_(std::move(composite)), fused_(fused) {}
  void save(const char* name, const Tensor& t, bool is_output) {
    for (const char* n : saved_names_)
      LG_CHECK(std::string_view(n) != name, this->name(), ": two tensors saved as '", name, "'");
    saved_names_.push_back(name);
    saved_.emplace_back(t, is_output);
  }
  bool has_fused_backward() const override { return fused_; }

 protected:
  std::vector<Tensor> apply(std::vector<Tensor> grad_outputs) override {
    std::vector<Tensor> saved;
    saved.reserve(saved_.size());
    auto self = shared_from_this();
    for (const SavedTensor& s : saved_) saved.push_back(s.unpack(self));
    BackwardArgs args{saved_names_, saved, grad_outputs[0], *this};
    if (fused_ && GradMode::is_enabled()) {  // create_graph: the fused kernel is opaque
      LG_CHECK(composite_ != nullptr, name(), ": double backward (create_graph=true) is not ",
               "supported: this op's backward is a fused kernel with no composite fallback");
      return composite_(args);
    }
    return fn_(args);
  }
  void release_saved() override {
    saved_.clear();
    saved_names_.clear();
    fn_ = nullptr;
    composite_ = nullptr;
  }

 private:
  BackwardFn fn_;
  BackwardFn composite_;
  std::vector<const char*> saved_names_;  // saved_[i] is read as saved_names_[i]
  std::vector<SavedTensor> saved_;
  bool fused_;
};

int category(DType t) { return t == kBool ? 0 : t == kInt64 ? 1 : 2; }

}  // namespace

const Tensor& BackwardArgs::saved(std::string_view name) const {
  for (size_t i = 0; i < saved_names.size(); ++i)
    if (saved_names[i] == name) return saved_tensors[i];
  std::string known;
  for (const char* n : saved_names) known += (known.empty() ? "'" : ", '") + std::string(n) + "'";
  detail::fail("backward of '", node.name(), "': no tensor was saved as '", std::string(name),
               "' (saved: ", known.empty() ? "none" : known, ")");
}

Tensor record(const char* name, Tensor out, const std::vector<Tensor>& inputs,
              const std::vector<SavedSlot>& saved, BackwardFn backward, RecordOptions options) {
  if (!any_requires_grad(inputs)) return out;
  auto node = std::make_shared<OpNode>(name, std::move(backward), options.fused_backward,
                                       std::move(options.composite));
  collect_next_edges(*node, inputs);
  if (is_anomaly_enabled()) {
    std::ostringstream os;
    os << name << "(";
    for (size_t i = 0; i < inputs.size(); ++i) os << (i ? ", " : "") << inputs[i].describe();
    os << ")";
    node->creation_context() = os.str();
  }
  for (const SavedSlot& s : saved) node->save(s.name, s.tensor, false);
  set_history({&out}, node);
  if (options.save_output) node->save(kSavedResult, out, true);
  return out;
}

namespace {

// t as a new graph node of its own (identity backward), so that grad() w.r.t.
// it captures only what flows through this one use of t.
Tensor slot_alias(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return t;
  return record("slot_alias", t.detach(), {t}, {},
                [](const BackwardArgs& a) { return std::vector<Tensor>{a.grad}; });
}

}  // namespace

std::vector<Tensor> differentiate_composite(
    const BackwardArgs& args, const std::vector<const char*>& inputs,
    const std::function<Tensor(const std::vector<Tensor>&)>& forward) {
  const size_t n_inputs = inputs.size();
  std::vector<Tensor> slots, wrt;
  for (size_t i = 0; i < n_inputs; ++i) {
    slots.push_back(slot_alias(args.saved(inputs[i])));
    if (args.needs(i)) wrt.push_back(slots.back());
  }
  Tensor out = forward(slots);
  std::vector<Tensor> g = grad({out}, wrt, {.create_graph = true}, {args.grad});
  std::vector<Tensor> grads(n_inputs);
  for (size_t i = 0, n = 0; i < n_inputs; ++i)
    if (args.needs(i)) grads[i] = g[n++];
  return grads;
}

DType result_type(const Tensor& a, const Tensor& b) {
  bool a_dim = a.dim() > 0, b_dim = b.dim() > 0;
  if (a_dim == b_dim) return promote_types(a.dtype(), b.dtype());
  const Tensor& dimmed = a_dim ? a : b;
  const Tensor& zero_dim = a_dim ? b : a;
  return category(zero_dim.dtype()) > category(dimmed.dtype()) ? zero_dim.dtype()
                                                                : dimmed.dtype();
}

DType result_type(const Tensor& a, const Scalar& s) {
  return category(s.default_dtype()) > category(a.dtype()) ? s.default_dtype() : a.dtype();
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    LG_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
             " cannot be broadcast together (dimension ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor broadcast_view(const Tensor& t, const Shape& shape, const char* op) {
  if (t.shape() == shape) return t;
  checked_numel(shape, op);  // no negative dims, a count int64 holds
  LG_CHECK(shape.size() >= static_cast<size_t>(t.dim()), op, ": cannot broadcast ",
           shape_str(t.shape()), " to ", shape_str(shape));
  size_t lead = shape.size() - t.dim();
  Shape strides(shape.size(), 0);
  for (size_t i = 0; i < static_cast<size_t>(t.dim()); ++i) {
    int64_t s = t.shape()[i];
    LG_CHECK(s == shape[lead + i] || s == 1, op, ": cannot broadcast ", shape_str(t.shape()),
             " to ", shape_str(shape));
    strides[lead + i] = s == 1 ? 0 : t.strides()[i];
  }
  return make_view(t, shape, strides, t.storage_offset());
}

Tensor cast_raw(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return t;
  Tensor out = Tensor::empty(t.shape(), dtype, t.device());
  kernel(&KernelTable::copy, t.device(), dtype, "to")(out, t);
  return out;
}

Tensor scalar_tensor(const Scalar& s, DType dtype, Device device) {
  Tensor out = Tensor::empty({}, dtype, device);
  kernel(&KernelTable::fill, device, dtype, "fill")(out, s);
  return out;
}

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  LG_CHECK(a.device() == b.device(), op, ": expected all tensors on one device, got ",
           a.describe(), " on ", a.device().str(), " and ", b.describe(), " on ",
           b.device().str());
}

void check_defined(const Tensor& t, const char* op, const char* what) {
  LG_CHECK(t.defined(), op, ": ", what, " is an undefined tensor");
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  size_t lead = grad.dim() - shape.size();
  std::vector<int64_t> dims;
  for (size_t i = 0; i < static_cast<size_t>(grad.dim()); ++i)
    if (i < lead || (shape[i - lead] == 1 && grad.shape()[i] != 1))
      dims.push_back(static_cast<int64_t>(i));
  Tensor r = dims.empty() ? grad : sum(grad, dims, /*keepdim=*/true);
  return r.shape() == shape ? r : r.reshape(shape);
}

Tensor grad_for(const Tensor& grad, const TensorMeta& input) {
  Tensor g = sum_to(grad, input.shape);
  return g.dtype() == input.dtype ? g : g.to(input.dtype);
}

}  // namespace lg::detail
