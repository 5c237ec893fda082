// nn::Module: the base of every layer and model. A module registers its
// parameters, buffers and child modules by name; from that it derives the
// dotted names ("blocks.0.self_attn.in_proj_weight"), state_dict() /
// load_state_dict(), train()/eval(), to(device) and a printable summary.
#pragma once
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include "../core/device.h"
#include "../core/dtype.h"
#include "../core/tensor.h"
#include "state_dict.h"

namespace lg::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  // Registered members are held by pointer (see below), so a module cannot be
  // copied or moved without leaving its parent pointing at the old one.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module(Module&&) = delete;
  Module& operator=(Module&&) = delete;

  // Registration keeps a pointer to the derived class's member, so a later
  // assignment (e.g. tying `lm_head.weight = tok_emb.weight`) is what the
  // module reports and saves. A parameter gets requires_grad; a buffer (running
  // statistics) is saved in the state dict but not trained.
  Tensor& register_parameter(const std::string& name, Tensor& tensor);
  Tensor& register_buffer(const std::string& name, Tensor& tensor);
  template <typename M>
  M& register_module(const std::string& name, M& module) {
    add_child(name, module);
    return module;
  }

  // Parameters in registration order, depth first; a tensor reachable under
  // several names (tied weights) is listed once, under its first name.
  std::vector<Tensor> parameters() const;
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  std::vector<std::pair<std::string, Module*>> named_children() const;
  // This module (name "") and every descendant, depth first.
  std::vector<std::pair<std::string, const Module*>> named_modules() const;

  // Every parameter and buffer under each of its names (tied weights appear
  // under both, as PyTorch's state_dict), detached, sharing storage.
  StateDict state_dict() const;
  // Copies values into the registered tensors (converting dtype). Strict:
  // missing and unexpected names and shape mismatches are all reported in one
  // lg::Error. A missing name whose tensor is tied to a present one is fine
  // (safetensors files store tied weights once).
  void load_state_dict(const StateDict& state, bool strict = true);

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Moves or converts every parameter and buffer (tied ones stay tied); the
  // parameters keep requires_grad and lose their .grad.
  void to(Device device);
  void to(DType dtype);
  void zero_grad();  // every parameter's .grad becomes undefined

  int64_t num_parameters() const;  // elements, tied weights counted once
  // The type's name as printed ("Linear"); defaults to the demangled class name.
  virtual std::string type_name() const;
  // The constructor arguments shown in the summary, e.g. "in=4, out=8, bias=true".
  virtual std::string extra_repr() const { return {}; }
  // PyTorch-style tree of the modules and the parameter count.
  std::string summary() const;

 private:
  struct Slot {
    std::string name;
    Tensor* tensor;
  };
  void add_child(const std::string& name, Module& module);
  void check_new_name(const std::string& name, const char* what) const;
  template <typename Visit>
  void visit_tensors(const std::string& prefix, bool buffers, Visit&& visit) const;
  NamedTensors unique_named(bool buffers) const;
  void retype(const std::function<Tensor(const Tensor&)>& convert);
  std::string repr(int indent) const;

  std::vector<Slot> parameters_;
  std::vector<Slot> buffers_;
  std::vector<std::pair<std::string, Module*>> children_;
  bool training_ = true;
};

std::ostream& operator<<(std::ostream& os, const Module& module);

// "0.1", "1e-05": numbers as extra_repr() shows them.
std::string format_number(double value);

}  // namespace lg::nn
