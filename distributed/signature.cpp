#include "distributed/signature.h"

#include <cstring>
#include <sstream>

#include "distributed/mpi_transport.h"
#include "distributed/wait.h"
#include "lasergrad/core/dtype.h"
#include "lasergrad/core/error.h"
#include "lasergrad/distributed/distributed.h"

namespace lg::distributed::detail {
namespace {

std::string range(int64_t lo, int64_t hi) { return std::to_string(lo) + ".." + std::to_string(hi); }

const char* device_name(int64_t type) { return type == 0 ? "cpu" : "cuda"; }

}  // namespace

Ranges ranges_across_ranks(const std::vector<int64_t>& values, const std::string& what) {
  // The maximum of ~v is ~(minimum of v): one MAX gives both, without
  // negation's overflow at INT64_MIN.
  std::vector<int64_t> buffer(values);
  for (int64_t v : values) buffer.push_back(~v);
  const auto n = static_cast<int64_t>(buffer.size());
  RequestsPtr requests = mpi_iallreduce(buffer.data(), n, Wire::Int64, ReduceOp::Max);
  wait_until([&] { return mpi_test(*requests); }, what);
  Ranges ranges;
  const size_t k = values.size();
  for (size_t i = 0; i < k; ++i) {
    ranges.max.push_back(buffer[i]);
    ranges.min.push_back(~buffer[k + i]);
  }
  return ranges;
}

void agree(const Call& call) {
  const Ranges r = ranges_across_ranks(
      {call.problem.empty() ? 0 : 1, call.numel, call.dtype, call.device, call.extra}, call.op);
  if (!call.problem.empty()) throw Error(call.problem);
  LG_CHECK(r.max[0] == 0, call.op, ": another rank's call is invalid (its own message says why); ",
           call.here, " here on rank ", rank());
  std::vector<std::string> differ;
  if (r.min[1] != r.max[1]) differ.push_back(range(r.min[1], r.max[1]) + " elements");
  if (r.min[2] != r.max[2])
    differ.push_back(std::string("dtypes ") + dtype_name(static_cast<DType>(r.min[2])) + ".." +
                     dtype_name(static_cast<DType>(r.max[2])));
  if (r.min[3] != r.max[3])
    differ.push_back(std::string("devices ") + device_name(r.min[3]) + ".." +
                     device_name(r.max[3]));
  if (r.min[4] != r.max[4]) {
    if (std::strncmp(call.op, "broadcast", 9) == 0)
      differ.push_back("roots " + range(r.min[4], r.max[4]));
    else
      differ.push_back(std::string("ops ") + reduce_op_name(static_cast<ReduceOp>(r.min[4])) +
                       ".." + reduce_op_name(static_cast<ReduceOp>(r.max[4])));
  }
  if (differ.empty()) return;
  std::ostringstream message;
  message << call.op << ": ranks disagree: " << call.here << " here on rank " << rank();
  for (const std::string& d : differ) message << ", " << d;
  message << " across " << world_size() << " ranks";
  throw Error(message.str());
}

void check_same(const std::vector<int64_t>& signature, const std::string& what) {
  const auto length = static_cast<int64_t>(signature.size());
  const Ranges lengths = ranges_across_ranks({length}, what);
  LG_CHECK(lengths.min[0] == lengths.max[0], what, ": ranks differ: ", length,
           " values here on rank ", rank(), ", ", range(lengths.min[0], lengths.max[0]),
           " values across ", world_size(), " ranks");
  const Ranges values = ranges_across_ranks(signature, what);
  for (size_t i = 0; i < signature.size(); ++i)
    LG_CHECK(values.min[i] == values.max[i], what, ": ranks differ at position ", i, ": ",
             signature[i], " here on rank ", rank(), ", ", range(values.min[i], values.max[i]),
             " across ", world_size(), " ranks");
}

}  // namespace lg::distributed::detail
