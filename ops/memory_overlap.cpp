// PyTorch's memory-overlap rules for the ops that write into an existing
// tensor (in-place arithmetic, copy_): the result of such a write must not
// depend on the order in which the kernel (or its OpenMP threads) visits the
// elements.
#include <algorithm>
#include <utility>

#include "op_support.h"

namespace lg::detail {
namespace {

// The storage offset (in elements) of every element of t, sorted.
std::vector<int64_t> element_offsets(const Tensor& t) {
  std::vector<int64_t> offsets{t.storage_offset()};
  for (int64_t d = 0; d < t.dim(); ++d) {
    std::vector<int64_t> next;
    next.reserve(offsets.size() * t.shape()[d]);
    for (int64_t base : offsets)
      for (int64_t i = 0; i < t.shape()[d]; ++i) next.push_back(base + i * t.strides()[d]);
    offsets = std::move(next);
  }
  std::sort(offsets.begin(), offsets.end());
  return offsets;
}

// Whether the strides alone prove every element its own location: with the
// dims of size > 1 sorted by stride, each stride passes the farthest offset
// the smaller dims reach. Views made by slicing, permuting and reshaping a
// dense tensor always pass; a zero stride never does.
bool strides_prove_injective(const Tensor& t) {
  std::vector<std::pair<int64_t, int64_t>> dims;  // (|stride|, size)
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.shape()[d] > 1) dims.emplace_back(std::abs(t.strides()[d]), t.shape()[d]);
  std::sort(dims.begin(), dims.end());
  int64_t reach = 0;
  for (auto [stride, size] : dims) {
    if (stride <= reach) return false;
    reach += stride * (size - 1);
  }
  return true;
}

bool has_internal_overlap(const Tensor& t) {
  if (t.numel() < 2 || strides_prove_injective(t)) return false;
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.shape()[d] > 1 && t.strides()[d] == 0) return true;
  std::vector<int64_t> offsets = element_offsets(t);  // rare layouts: check each element
  return std::adjacent_find(offsets.begin(), offsets.end()) != offsets.end();
}

// The lowest and one past the highest storage offset t touches (t non-empty).
std::pair<int64_t, int64_t> offset_range(const Tensor& t) {
  int64_t lo = t.storage_offset(), hi = t.storage_offset();
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t span = (t.shape()[d] - 1) * t.strides()[d];
    (span < 0 ? lo : hi) += span;
  }
  return {lo, hi + 1};
}

bool same_view(const Tensor& a, const Tensor& b) {
  return a.storage_offset() == b.storage_offset() && a.shape() == b.shape() &&
         a.strides() == b.strides();
}

// Whether a and b share a memory location. Views of one storage keep its
// dtype, so offsets compare directly; overlapping ranges are checked element
// by element, which lets interleaved views such as x[0::2] and x[1::2] through.
bool share_an_element(const Tensor& a, const Tensor& b) {
  if (a.storage() != b.storage() || a.numel() == 0 || b.numel() == 0) return false;
  auto [a_lo, a_hi] = offset_range(a);
  auto [b_lo, b_hi] = offset_range(b);
  if (a_hi <= b_lo || b_hi <= a_lo) return false;
  std::vector<int64_t> in_a = element_offsets(a), in_b = element_offsets(b);
  std::vector<int64_t> common;
  std::set_intersection(in_a.begin(), in_a.end(), in_b.begin(), in_b.end(),
                        std::back_inserter(common));
  return !common.empty();
}

}  // namespace

void check_no_internal_overlap(const Tensor& dst, const char* op) {
  LG_CHECK(!has_internal_overlap(dst), op, ": unsupported operation: more than one element of ",
           "the written-to tensor ", dst.describe(), " (strides ", shape_str(dst.strides()),
           ") refers to a single memory location; clone() it before writing into it");
}

void check_no_partial_overlap(const Tensor& dst, const Tensor& src, const char* op) {
  LG_CHECK(same_view(dst, src) || !share_an_element(dst, src), op,
           ": unsupported operation: some elements of the input ", src.describe(), " (strides ",
           shape_str(src.strides()), ") and the written-to tensor ", dst.describe(), " (strides ",
           shape_str(dst.strides()),
           ") refer to a single memory location; clone() the input "
           "first");
}

}  // namespace lg::detail
