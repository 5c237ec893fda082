// The check that every rank makes the same call before a collective runs:
// one small all-reduce (MAX of each value and of its complement) gives each
// field's range across ranks, so a mismatch throws lg::Error on every rank
// instead of corrupting memory or hanging.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lg::distributed::detail {

struct Call {
  const char* op;
  std::string problem;  // why this rank's call cannot run; "" when it can
  int64_t numel;
  int64_t dtype;
  int64_t device;    // DeviceType
  int64_t extra;     // the ReduceOp, or the root of a broadcast
  std::string here;  // this rank's operand, e.g. "float32[2,3] (6 elements) on cpu"
};

// Throws on every rank when any rank has a problem or the fields differ.
void agree(const Call& call);
// Throws on every rank when any rank's signature differs in length or content.
void check_same(const std::vector<int64_t>& signature, const std::string& what);

// Each value's maximum and minimum across the ranks (bounded wait).
struct Ranges {
  std::vector<int64_t> max;
  std::vector<int64_t> min;
};
Ranges ranges_across_ranks(const std::vector<int64_t>& values, const std::string& what);

}  // namespace lg::distributed::detail
