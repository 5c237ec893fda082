// NCCL underneath lg::distributed's CUDA tensors (LG_WITH_NCCL only). The
// communicator starts at the first CUDA collective, on the tensor's device,
// from an id that rank 0 sends to the others over MPI. Work is enqueued on
// the default stream, where all of lasergrad's CUDA work runs, and each start
// returns a poll that says when the GPU has finished it.
#pragma once
#include <functional>

#include "lasergrad/distributed/distributed.h"

namespace lg::distributed::detail {

std::function<bool()> nccl_all_reduce_start(const Tensor& t, ReduceOp op);  // Mean: ncclAvg
std::function<bool()> nccl_broadcast_start(const Tensor& t, int root);
void nccl_stop();  // destroys the communicator, if any

}  // namespace lg::distributed::detail
