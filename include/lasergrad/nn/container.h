// Containers that own their children: ModuleList (indexed, named "0", "1", …)
// and Sequential (a chain of layers, each fed the previous one's output).
#pragma once
#include <functional>
#include <memory>
#include <typeinfo>
#include <vector>

#include "../core/error.h"
#include "module.h"

namespace lg::nn {

class ModuleList : public Module {
 public:
  template <typename M, typename... Args>
  M& emplace_back(Args&&... args) {
    auto owned = std::make_unique<M>(std::forward<Args>(args)...);
    M& ref = *owned;
    push_back(std::move(owned));
    return ref;
  }
  void push_back(std::unique_ptr<Module> module);

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  Module& operator[](size_t i) const;
  // The i-th child as its concrete type (lg::Error if it is another type).
  template <typename M>
  M& at(size_t i) const {
    auto* m = dynamic_cast<M*>(&(*this)[i]);
    LG_CHECK(m, "nn::ModuleList::at: item ", i, " is a ", (*this)[i].type_name(), ", not the ",
             "requested type");
    return *m;
  }

 private:
  std::vector<std::unique_ptr<Module>> items_;
};

class Sequential : public Module {
 public:
  // Appends a layer constructed in place; it must have forward(const Tensor&).
  template <typename M, typename... Args>
  M& add(Args&&... args) {
    auto owned = std::make_unique<M>(std::forward<Args>(args)...);
    M& ref = *owned;
    append(std::move(owned), [&ref](const Tensor& x) { return ref.forward(x); });
    return ref;
  }
  // Appends a function as a parameter-free step (it takes the next index).
  void add(std::function<Tensor(const Tensor&)> fn);

  Tensor forward(const Tensor& x) const;
  Tensor operator()(const Tensor& x) const { return forward(x); }
  size_t size() const { return items_.size(); }
  Module& operator[](size_t i) const;

 private:
  void append(std::unique_ptr<Module> module, std::function<Tensor(const Tensor&)> call);
  struct Item {
    std::unique_ptr<Module> module;
    std::function<Tensor(const Tensor&)> call;
  };
  std::vector<Item> items_;
};

}  // namespace lg::nn
