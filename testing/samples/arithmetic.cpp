// Op-registry entries of the arithmetic ops (ops/arithmetic.cpp): how to call each op
// and the sample inputs that the generic gradcheck test and lg-gradcheck use.
#include <lasergrad/lasergrad.h>

#include <functional>

#include "testing/registry.h"
#include "testing/samples.h"

namespace lg {
namespace {
using samples::constant;
using samples::leaf;
using samples::signed_leaf;
using samples::strided_leaf;

// Same-shape, broadcast, non-contiguous and 0-d pairings for a binary op;
// `lo`/`hi` bound the second operand (e.g. away from 0 for div).
std::vector<OpSample> binary_samples(double lo = -1, double hi = 1) {
  return {
      {"same shape [3,4]", {leaf({3, 4}), leaf({3, 4}, lo, hi)}},
      {"broadcast [3,1] with [4]", {leaf({3, 1}), leaf({4}, lo, hi)}},
      {"non-contiguous [4,3]^T with [2,1,4]", {strided_leaf({3, 4}), leaf({2, 1, 4}, lo, hi)}},
      {"0-d with [2,3]", {leaf({}), strided_leaf({2, 3}, lo, hi)}},
      {"constant second operand", {leaf({2, 3}), constant({2, 3}, lo, hi)}},
  };
}

std::vector<OpSample> unary_samples(double lo = -1, double hi = 1) {
  return {
      {"[3,4]", {leaf({3, 4}, lo, hi)}},
      {"non-contiguous [2,3,4]", {strided_leaf({2, 3, 4}, lo, hi)}},
      {"0-d", {leaf({}, lo, hi)}},
  };
}

void add_binary(const char* name, Tensor (*fn)(const Tensor&, const Tensor&), double lo = -1,
                double hi = 1) {
  register_op({name, [fn](const std::vector<Tensor>& in) { return fn(in[0], in[1]); },
               [lo, hi] { return binary_samples(lo, hi); }});
}

void add_unary(const char* name, Tensor (*fn)(const Tensor&), double lo = -1, double hi = 1) {
  register_op({name, [fn](const std::vector<Tensor>& in) { return fn(in[0]); },
               [lo, hi] { return unary_samples(lo, hi); }});
}
}  // namespace

void register_arithmetic_ops() {
  using BinaryFn = Tensor (*)(const Tensor&, const Tensor&);
  add_binary("add", static_cast<BinaryFn>(add));
  add_binary("sub", static_cast<BinaryFn>(sub));
  add_binary("mul", static_cast<BinaryFn>(mul));
  add_binary("div", static_cast<BinaryFn>(div), 0.5, 2.0);
  add_binary("maximum", maximum);
  add_binary("minimum", minimum);
  register_op(
      {"pow", [](const std::vector<Tensor>& in) { return pow(in[0], in[1]); },
       [] {
         return std::vector<OpSample>{
             {"[3,4] ** [3,4]", {leaf({3, 4}, 0.5, 2), leaf({3, 4}, -1, 2)}},
             {"broadcast [3,1] ** [4]", {leaf({3, 1}, 0.5, 2), leaf({4}, -1, 2)}},
             {"non-contiguous", {strided_leaf({3, 4}, 0.5, 2), strided_leaf({3, 4}, -1, 2)}},
         };
       }});
  register_op({"pow.scalar",
               [](const std::vector<Tensor>& in) { return pow(in[0], 2.5) + pow(in[1], 3); },
               [] {
                 return std::vector<OpSample>{
                     {"x^2.5 + y^3", {leaf({3, 4}, 0.5, 2), leaf({3, 4})}},
                     {"non-contiguous", {strided_leaf({2, 3}, 0.5, 2), strided_leaf({2, 3})}},
                 };
               }});
  register_op({"scalar_arithmetic",
               [](const std::vector<Tensor>& in) {
                 return (2 * in[0] + 1.5) / 3 - 2.0 / in[1] + (1 - in[0]) * 0.5f;
               },
               [] {
                 return std::vector<OpSample>{
                     {"[3,4]", {leaf({3, 4}), leaf({3, 4}, 0.5, 2)}},
                     {"non-contiguous", {strided_leaf({2, 3}), strided_leaf({2, 3}, 0.5, 2)}},
                 };
               }});
  add_unary("neg", neg);
  add_unary("exp", exp);
  add_unary("log", log, 0.5, 2.0);
  add_unary("sqrt", sqrt, 0.5, 2.0);
  register_op({"abs", [](const std::vector<Tensor>& in) { return abs(in[0]); },
               [] {
                 return std::vector<OpSample>{
                     {"[3,4] away from 0", {signed_leaf({3, 4}, 0.2, 1)}},
                     {"0-d", {signed_leaf({}, 0.2, 1)}},
                 };
               }});
}

}  // namespace lg
