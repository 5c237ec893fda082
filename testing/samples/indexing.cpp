// Op-registry entries of the indexing ops (ops/indexing.cpp): how to call each op
// and the sample inputs that the generic gradcheck test and lg-gradcheck use.
#include <lasergrad/lasergrad.h>

#include <functional>

#include "testing/registry.h"
#include "testing/samples.h"

namespace lg {
namespace {
Tensor ids(const std::vector<int64_t>& values, const Shape& shape) { return tensor(values, shape); }
}  // namespace

void register_indexing_ops() {
  using samples::leaf;
  using samples::strided_leaf;
  using In = std::vector<Tensor>;
  // Index tensors are inputs that are not checked (int64); repeats test accumulation.
  register_op(
      {"embedding", [](const In& in) { return embedding(in[1], in[0]); },
       [] {
         return std::vector<OpSample>{
             {"[2,3] ids into [5,4] with repeats", {leaf({5, 4}), ids({1, 4, 1, 0, 1, 3}, {2, 3})}},
             {"non-contiguous table and ids",
              {strided_leaf({4, 3}), ids({3, 0, 2, 0, 3, 1}, {3, 2}).t()}},
         };
       }});
  // The padding row's true derivative is not zero (it is read like any row):
  // the call zeroes the outputs read from it, so finite differences agree with
  // the gradient that padding_idx withholds.
  register_op({"embedding.padding_idx",
               [](const In& in) {
                 Tensor not_padding =
                     ne(in[1], full({}, 4, {.dtype = kInt64, .device = in[1].device()})).to(kFloat64);
                 return embedding(in[1], in[0], /*padding_idx=*/-1) * not_padding.unsqueeze(-1);
               },
               [] {
                 return std::vector<OpSample>{
                     {"padding row 4 of [5,3]", {leaf({5, 3}), ids({4, 1, 4, 2, 1}, {5})}},
                     {"non-contiguous table", {strided_leaf({5, 2}), ids({0, 4, 0}, {3})}},
                 };
               }});
  register_op({"index_select", [](const In& in) { return index_select(in[0], 1, in[1]); },
               [] {
                 return std::vector<OpSample>{
                     {"[3,4] dim 1 with repeats", {leaf({3, 4}), ids({2, 0, 2, 3, 2}, {5})}},
                     {"non-contiguous [2,5,2]", {strided_leaf({2, 5, 2}), ids({4, 1, 1}, {3})}},
                     {"0-d index", {leaf({2, 3}), ids({1}, {})}},
                 };
               }});
  register_op(
      {"index_add", [](const In& in) { return index_add(in[0], 0, in[2], in[1]); },
       [] {
         return std::vector<OpSample>{
             {"[4,3] += [5,3] at repeated rows",
              {leaf({4, 3}), leaf({5, 3}), ids({3, 0, 3, 1, 3}, {5})}},
             {"non-contiguous", {strided_leaf({3, 2}), strided_leaf({2, 2}), ids({2, 2}, {2})}},
         };
       }});
  register_op({"gather", [](const In& in) { return gather(in[0], 1, in[1]); },
               [] {
                 return std::vector<OpSample>{
                     {"[3,4] dim 1, index [3,5] with repeats",
                      {leaf({3, 4}), ids({0, 3, 3, 1, 2, 2, 2, 0, 1, 3, 1, 1, 0, 0, 3}, {3, 5})}},
                     {"non-contiguous input and index, smaller index",
                      {strided_leaf({3, 4}), ids({1, 0, 3, 3, 2, 1}, {3, 2}).t()}},
                 };
               }});
  register_op(
      {"scatter_add", [](const In& in) { return scatter_add(in[0], 0, in[2], in[1]); },
       [] {
         return std::vector<OpSample>{
             {"[3,4] += [4,4] at repeats",
              {leaf({3, 4}), leaf({4, 4}),
               ids({2, 0, 1, 2, 2, 2, 0, 0, 1, 1, 1, 1, 0, 2, 0, 1}, {4, 4})}},
             {"src larger than index, non-contiguous",
              {strided_leaf({3, 4}), strided_leaf({3, 5}), ids({0, 2, 2, 1, 1, 0}, {2, 3})}},
         };
       }});
  register_op({"stack",
               [](const In& in) {
                 return stack({in[0], in[1], in[2]}, 1);
               },
               [] {
                 return std::vector<OpSample>{
                     {"three [2,3] on dim 1", {leaf({2, 3}), strided_leaf({2, 3}), leaf({2, 3})}},
                 };
               }});
  register_op({"split",
               [](const In& in) {
                 std::vector<Tensor> p = split(in[0], 2, 0);
                 return cat({p[2], 2.0 * p[0], 3.0 * p[1]}, 0);
               },
               [] {
                 return std::vector<OpSample>{{"[5,3] by 2", {leaf({5, 3})}},
                                              {"non-contiguous", {strided_leaf({5, 2})}}};
               }});
  register_op({"split.sizes",
               [](const In& in) {
                 std::vector<Tensor> p = split(in[0], {1, 0, 3, 1}, 1);
                 return cat({p[3], 2.0 * p[2], p[1], 3.0 * p[0]}, 1);
               },
               [] {
                 return std::vector<OpSample>{{"[2,5] into 1,0,3,1", {leaf({2, 5})}},
                                              {"non-contiguous", {strided_leaf({3, 5})}}};
               }});
  register_op({"chunk",
               [](const In& in) {
                 std::vector<Tensor> p = chunk(in[0], 3, -1);
                 return cat({p[1] * p[0], 3.0 * p[2]}, -1);
               },
               [] {
                 return std::vector<OpSample>{{"[2,7] in 3 (3,3,1)", {leaf({2, 7})}},
                                              {"non-contiguous", {strided_leaf({2, 7})}}};
               }});
  register_op({"pad",
               [](const In& in) {
                 return pad(in[0], {1, 2, -1, 0}, 0.5);
               },
               [] {
                 return std::vector<OpSample>{
                     {"[3,4] to [2,7]", {leaf({3, 4})}},
                     {"non-contiguous [2,3,2]", {strided_leaf({2, 3, 2})}}};
               }});
  register_op({"repeat",
               [](const In& in) {
                 return repeat(in[0], {2, 1, 3});
               },
               [] {
                 return std::vector<OpSample>{
                     {"[2,2] tiled to [2,2,6]", {leaf({2, 2})}},
                     {"non-contiguous [3,1,2]", {strided_leaf({3, 1, 2})}}};
               }});
}

}  // namespace lg
