// Op-registry entries of the pool ops (ops/pool.cpp): how to call each op
// and the sample inputs that the generic gradcheck test and lg-gradcheck use.
#include <lasergrad/lasergrad.h>

#include <functional>

#include "testing/registry.h"
#include "testing/samples.h"

namespace lg {

void register_pool_ops() {
  using samples::leaf;
  using samples::strided_leaf;
  using In = std::vector<Tensor>;
  auto samples_of = [](Shape shape) {
    return [shape] {
      Shape unbatched(shape.begin() + 1, shape.end());
      return std::vector<OpSample>{{shape_str(shape), {leaf(shape)}},
                                   {"non-contiguous " + shape_str(shape), {strided_leaf(shape)}},
                                   {"unbatched " + shape_str(unbatched), {leaf(unbatched)}}};
    };
  };
  register_op({"max_pool1d",
               [](const In& in) { return max_pool1d(in[0], 3, {.stride = 2, .padding = 1}); },
               samples_of({2, 2, 7})});
  register_op({"max_pool2d",
               [](const In& in) {
                 return max_pool2d(in[0], {2, 3}, {.stride = {1, 2}, .padding = {1, 1}});
               },
               samples_of({1, 2, 4, 5})});
  register_op({"avg_pool1d",
               [](const In& in) {
                 return avg_pool1d(in[0], 3,
                                   {.stride = 2, .padding = 1, .count_include_pad = false});
               },
               samples_of({2, 2, 7})});
  register_op({"avg_pool2d",
               [](const In& in) {
                 return avg_pool2d(in[0], {2, 3}, {.padding = {1, 1}});
               },
               samples_of({1, 2, 4, 5})});
}

}  // namespace lg
