#include <cxxabi.h>
#include <lasergrad/core/error.h>
#include <lasergrad/core/grad_mode.h>
#include <lasergrad/nn/module.h>

#include <cstdlib>
#include <memory>
#include <ostream>
#include <set>
#include <sstream>
#include <typeinfo>
#include <unordered_map>

namespace lg::nn {

namespace {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

void Module::check_new_name(const std::string& name, const char* what) const {
  LG_CHECK(!name.empty() && name.find('.') == std::string::npos, "Module::", what,
           ": name must be non-empty and contain no '.', got \"", name, "\"");
  auto taken = [&](const auto& list) {
    for (const auto& entry : list)
      if (entry.first == name) return true;
    return false;
  };
  bool used = taken(children_);
  for (const auto& s : parameters_) used = used || s.name == name;
  for (const auto& s : buffers_) used = used || s.name == name;
  LG_CHECK(!used, "Module::", what, ": \"", name, "\" is already registered in ", type_name());
}

Tensor& Module::register_parameter(const std::string& name, Tensor& tensor) {
  check_new_name(name, "register_parameter");
  LG_CHECK(tensor.defined(), "Module::register_parameter: \"", name, "\" is an undefined tensor");
  LG_CHECK(is_floating(tensor.dtype()), "Module::register_parameter: \"", name,
           "\" must be a floating tensor, got ", tensor.describe());
  LG_CHECK(tensor.is_leaf(), "Module::register_parameter: \"", name,
           "\" must be a leaf tensor (detach() it first)");
  tensor.requires_grad_(true);
  parameters_.push_back({name, &tensor});
  return tensor;
}

Tensor& Module::register_buffer(const std::string& name, Tensor& tensor) {
  check_new_name(name, "register_buffer");
  LG_CHECK(tensor.defined(), "Module::register_buffer: \"", name, "\" is an undefined tensor");
  buffers_.push_back({name, &tensor});
  return tensor;
}

void Module::add_child(const std::string& name, Module& module) {
  check_new_name(name, "register_module");
  LG_CHECK(&module != this, "Module::register_module: a module cannot contain itself");
  children_.emplace_back(name, &module);
}

template <typename Visit>
void Module::visit_tensors(const std::string& prefix, bool buffers, Visit&& visit) const {
  for (const auto& slot : buffers ? buffers_ : parameters_) visit(prefix + slot.name, *slot.tensor);
  for (const auto& [name, child] : children_)
    child->visit_tensors(prefix + name + ".", buffers, visit);
}

// Each tensor once, under the first name that reaches it (tied weights).
NamedTensors Module::unique_named(bool buffers) const {
  NamedTensors out;
  std::set<const TensorImpl*> seen;
  visit_tensors("", buffers, [&](const std::string& name, const Tensor& t) {
    if (seen.insert(t.impl()).second) out.emplace_back(name, t);
  });
  return out;
}

NamedTensors Module::named_parameters() const { return unique_named(false); }
NamedTensors Module::named_buffers() const { return unique_named(true); }

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_children() const { return children_; }

std::vector<std::pair<std::string, const Module*>> Module::named_modules() const {
  std::vector<std::pair<std::string, const Module*>> out{{"", this}};
  for (const auto& [name, child] : children_)
    for (const auto& [sub, m] : child->named_modules())
      out.emplace_back(sub.empty() ? name : name + "." + sub, m);
  return out;
}

StateDict Module::state_dict() const {
  StateDict out;
  auto add = [&](const std::string& name, const Tensor& t) { out[name] = t.detach(); };
  visit_tensors("", false, add);
  visit_tensors("", true, add);
  return out;
}

void Module::load_state_dict(const StateDict& state, bool strict) {
  // name -> registered tensor (parameters and buffers), in registration order.
  std::vector<std::pair<std::string, Tensor*>> targets;
  for (bool buffers : {false, true})
    visit_tensors("", buffers, [&](const std::string& name, Tensor& t) {
      targets.emplace_back(name, &t);
    });

  std::set<const TensorImpl*> provided;  // tensors that some present name fills
  std::set<std::string> known;
  for (const auto& [name, t] : targets) {
    known.insert(name);
    if (state.count(name)) provided.insert(t->impl());
  }
  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& [name, t] : targets) {
    auto it = state.find(name);
    if (it == state.end()) {
      if (!provided.count(t->impl())) missing.push_back(name);
      continue;
    }
    const Tensor& src = it->second;
    if (!src.defined() || src.shape() != t->shape())
      mismatched.push_back(name + " (expected " + shape_str(t->shape()) + ", got " +
                           (src.defined() ? shape_str(src.shape()) : std::string("undefined")) +
                           ")");
  }
  for (const auto& [name, t] : state)
    if (!known.count(name)) unexpected.push_back(name);

  std::string problems;
  auto report = [&](const char* what, const std::vector<std::string>& names) {
    if (!names.empty()) problems += std::string(problems.empty() ? "" : "; ") + what + ": " + join(names);
  };
  report("shape mismatch", mismatched);
  if (strict) {
    report("missing keys", missing);
    report("unexpected keys", unexpected);
  }
  LG_CHECK(problems.empty(), "load_state_dict: into ", type_name(), ": ", problems);

  NoGradGuard no_grad;
  for (const auto& [name, t] : targets) {
    auto it = state.find(name);
    if (it == state.end() || it->second.is_same(*t)) continue;
    t->copy_(it->second);
  }
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::retype(const std::function<Tensor(const Tensor&)>& convert) {
  // One converted tensor per original, so that tied weights stay tied.
  std::unordered_map<const TensorImpl*, Tensor> done;
  for (bool buffers : {false, true})
    visit_tensors("", buffers, [&](const std::string&, Tensor& t) {
      auto it = done.find(t.impl());
      if (it == done.end()) {
        Tensor moved = convert(t.detach()).detach();
        if (moved.is_same(t) || moved.storage() == t.storage()) moved = moved.clone();
        if (!buffers) moved.requires_grad_(true);
        it = done.emplace(t.impl(), moved).first;
      }
      t = it->second;
    });
}

void Module::to(Device device) {
  retype([&](const Tensor& t) { return t.to(device); });
}

void Module::to(DType dtype) {
  for (const auto& [name, t] : named_parameters())
    LG_CHECK(is_floating(dtype), "Module::to: parameters must stay floating, got ",
             dtype_name(dtype), " for ", name);
  retype([&](const Tensor& t) { return is_floating(t.dtype()) ? t.to(dtype) : t; });
}

void Module::zero_grad() {
  for (auto& t : parameters()) t.zero_grad();
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& t : parameters()) n += t.numel();
  return n;
}

std::string Module::type_name() const {
  const char* mangled = typeid(*this).name();
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  std::string name = status == 0 && demangled ? demangled.get() : mangled;
  for (const char* prefix : {"lg::nn::", "(anonymous namespace)::"})
    if (name.rfind(prefix, 0) == 0) name = name.substr(std::string(prefix).size());
  return name;
}

std::string Module::repr(int indent) const {
  std::string out = type_name() + "(" + extra_repr();
  if (children_.empty()) return out + ")";
  const std::string pad(static_cast<size_t>(indent + 2), ' ');
  out += "\n";
  for (const auto& [name, child] : children_)
    out += pad + "(" + name + "): " + child->repr(indent + 2) + "\n";
  return out + std::string(static_cast<size_t>(indent), ' ') + ")";
}

std::string Module::summary() const {
  std::ostringstream os;
  int64_t n = num_parameters();
  std::string digits = std::to_string(n), grouped;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) grouped += ',';
    grouped += digits[i];
  }
  os << repr(0) << "\nparameters: " << grouped << " (" << named_parameters().size() << " tensors)";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Module& module) { return os << module.summary(); }

std::string format_number(double value) {
  std::ostringstream os;
  os << value;
  return os.str();
}

}  // namespace lg::nn
