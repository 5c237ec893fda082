#include <lasergrad/nn/container.h>

#include <string>

namespace lg::nn {

namespace {
// A function step of a Sequential: a module without parameters.
class Lambda : public Module {
 public:
  std::string type_name() const override { return "Lambda"; }
};
}  // namespace

void ModuleList::push_back(std::unique_ptr<Module> module) {
  LG_CHECK(module != nullptr, "nn::ModuleList::push_back: null module");
  register_module(std::to_string(items_.size()), *module);
  items_.push_back(std::move(module));
}

Module& ModuleList::operator[](size_t i) const {
  LG_CHECK(i < items_.size(), "nn::ModuleList: index ", i, " out of range for ", items_.size(),
           " modules");
  return *items_[i];
}

void Sequential::append(std::unique_ptr<Module> module, std::function<Tensor(const Tensor&)> call) {
  register_module(std::to_string(items_.size()), *module);
  items_.push_back({std::move(module), std::move(call)});
}

void Sequential::add(std::function<Tensor(const Tensor&)> fn) {
  LG_CHECK(fn != nullptr, "nn::Sequential::add: empty function");
  append(std::make_unique<Lambda>(), std::move(fn));
}

Tensor Sequential::forward(const Tensor& x) const {
  Tensor y = x;
  for (const auto& item : items_) y = item.call(y);
  return y;
}

Module& Sequential::operator[](size_t i) const {
  LG_CHECK(i < items_.size(), "nn::Sequential: index ", i, " out of range for ", items_.size(),
           " modules");
  return *items_[i].module;
}

}  // namespace lg::nn
