// The MPI calls lg::distributed makes, behind a header free of <mpi.h>:
// every collective is nonblocking and returns its requests, which the caller
// completes with a bounded wait (wait.h). Without LG_WITH_MPI these throw.
#pragma once
#include <cstdint>
#include <memory>

#include "lasergrad/distributed/distributed.h"

namespace lg::distributed::detail {

enum class Wire { Float32, Float64, Int64, Byte };

struct Requests;  // MPI_Requests in flight
struct RequestsDeleter {
  void operator()(Requests* requests) const;
};
using RequestsPtr = std::unique_ptr<Requests, RequestsDeleter>;

bool mpi_compiled();
// MPI_Init_thread (FUNNELED or better); sets rank and size. Throws lg::Error.
void mpi_start(int& rank, int& size);
void mpi_stop();  // MPI_Finalize, once
[[noreturn]] void mpi_abort(int exit_code);

// In place over count elements (Mean reduces as Sum: the caller divides).
RequestsPtr mpi_iallreduce(void* data, int64_t count, Wire wire, ReduceOp op);
RequestsPtr mpi_ibcast(void* data, int64_t nbytes, int root);
RequestsPtr mpi_ibarrier();
bool mpi_test(Requests& requests);  // true when all are complete

}  // namespace lg::distributed::detail
