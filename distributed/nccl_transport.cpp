#include "distributed/nccl_transport.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <memory>

#include "distributed/mpi_transport.h"
#include "distributed/wait.h"
#include "lasergrad/core/error.h"

namespace lg::distributed::detail {
namespace {

void check_cuda(cudaError_t status, const char* call) {
  if (status == cudaSuccess) return;
  cudaGetLastError();
  lg::detail::fail("distributed: ", call, " failed: ", cudaGetErrorString(status));
}

void check_nccl(ncclResult_t status, const char* call) {
  if (status == ncclSuccess || status == ncclInProgress) return;
  lg::detail::fail("distributed: ", call, " failed: ", ncclGetErrorString(status));
}

struct Communicator {
  ncclComm_t comm = nullptr;
  int device = -1;
};
Communicator& communicator_state() {
  static Communicator c;
  return c;
}

// Makes device current while alive (lasergrad's backend keeps cuda:0 current otherwise).
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    check_cuda(cudaGetDevice(&previous_), "cudaGetDevice");
    if (previous_ != device) check_cuda(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceScope() { cudaSetDevice(previous_); }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int previous_ = 0;
};

// True once the (nonblocking) communicator has no call in progress.
bool settled(ncclComm_t comm, const char* call) {
  ncclResult_t state = ncclSuccess;
  check_nccl(ncclCommGetAsyncError(comm, &state), "ncclCommGetAsyncError");
  if (state == ncclInProgress) return false;
  check_nccl(state, call);
  return true;
}

ncclComm_t communicator(int device, const char* op) {
  Communicator& c = communicator_state();
  if (c.comm != nullptr) {
    LG_CHECK(device == c.device, op, ": this rank's NCCL communicator is on cuda:", c.device,
             ", the tensor on cuda:", device, " (one device per rank)");
    return c.comm;
  }
  ncclUniqueId id{};
  if (rank() == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
  RequestsPtr sent = mpi_ibcast(&id, sizeof id, 0);
  wait_until([&] { return mpi_test(*sent); }, "NCCL start-up (sending the unique id)");
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;  // so that the start-up is polled under the timeout
  check_nccl(ncclCommInitRankConfig(&c.comm, world_size(), id, rank(), &config),
             "ncclCommInitRankConfig");
  wait_until([&] { return settled(c.comm, "ncclCommInitRankConfig"); }, "NCCL start-up");
  c.device = device;
  return c.comm;
}

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return ncclFloat32;
    case DType::Float64:
      return ncclFloat64;
    case DType::Int64:
      return ncclInt64;
    case DType::Bool:
      return ncclUint8;
  }
  return ncclUint8;
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
      return ncclSum;
    case ReduceOp::Mean:
      return ncclAvg;
    case ReduceOp::Max:
      return ncclMax;
  }
  return ncclSum;
}

// After an enqueue: waits out a nonblocking "in progress", then records an
// event on the default stream and returns its poll.
std::function<bool()> completion(ncclComm_t comm, const char* call) {
  wait_until([&] { return settled(comm, call); }, call);
  cudaEvent_t raw = nullptr;
  check_cuda(cudaEventCreateWithFlags(&raw, cudaEventDisableTiming), "cudaEventCreate");
  auto event = std::shared_ptr<CUevent_st>(raw, [](cudaEvent_t e) { cudaEventDestroy(e); });
  check_cuda(cudaEventRecord(event.get(), nullptr), "cudaEventRecord");
  return [event, comm, call] {
    const cudaError_t state = cudaEventQuery(event.get());
    if (state == cudaErrorNotReady) {
      settled(comm, call);  // throws on an asynchronous NCCL error
      return false;
    }
    check_cuda(state, "cudaEventQuery");
    return true;
  };
}

}  // namespace

std::function<bool()> nccl_all_reduce_start(const Tensor& t, ReduceOp op) {
  const int device = t.device().index;
  ncclComm_t comm = communicator(device, "all_reduce");
  DeviceScope scope(device);
  check_nccl(ncclAllReduce(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()),
                           nccl_type(t.dtype()), nccl_op(op), comm, nullptr),
             "ncclAllReduce");
  return completion(comm, "ncclAllReduce");
}

std::function<bool()> nccl_broadcast_start(const Tensor& t, int root) {
  const int device = t.device().index;
  ncclComm_t comm = communicator(device, "broadcast");
  DeviceScope scope(device);
  const size_t nbytes = static_cast<size_t>(t.numel()) * element_size(t.dtype());
  check_nccl(ncclBroadcast(t.raw_data(), t.raw_data(), nbytes, ncclUint8, root, comm, nullptr),
             "ncclBroadcast");
  return completion(comm, "ncclBroadcast");
}

void nccl_stop() {
  Communicator& c = communicator_state();
  if (c.comm == nullptr) return;
  ncclCommDestroy(c.comm);
  c.comm = nullptr;
}

}  // namespace lg::distributed::detail
