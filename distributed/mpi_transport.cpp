// Open MPI underneath lg::distributed (LG_WITH_MPI), or the refusals of a
// build without it. Messages over 2^30 elements go as several requests, since
// MPI counts are ints.
#include "distributed/mpi_transport.h"

#include <cstdlib>

#include "lasergrad/core/error.h"

#ifdef LG_WITH_MPI
#include <mpi.h>

#include <algorithm>
#include <vector>
#endif

namespace lg::distributed::detail {

#ifdef LG_WITH_MPI

struct Requests {
  std::vector<MPI_Request> pending;
};

void RequestsDeleter::operator()(Requests* requests) const { delete requests; }

namespace {

constexpr int64_t kMaxChunk = int64_t{1} << 30;

void check(int status, const char* call) {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, text, &length);
  lg::detail::fail("distributed: ", call,
                   " failed: ", std::string(text, static_cast<size_t>(length)));
}

MPI_Datatype datatype(Wire wire) {
  switch (wire) {
    case Wire::Float32:
      return MPI_FLOAT;
    case Wire::Float64:
      return MPI_DOUBLE;
    case Wire::Int64:
      return MPI_INT64_T;
    case Wire::Byte:
      return MPI_BYTE;
  }
  return MPI_BYTE;
}

int64_t wire_size(Wire wire) { return wire == Wire::Byte ? 1 : (wire == Wire::Float32 ? 4 : 8); }

MPI_Op mpi_op(ReduceOp op) { return op == ReduceOp::Max ? MPI_MAX : MPI_SUM; }

// Calls start(chunk pointer, chunk count, request) for each chunk of count elements.
template <typename Start>
RequestsPtr chunked(void* data, int64_t count, Wire wire, Start start) {
  RequestsPtr requests(new Requests);
  char* bytes = static_cast<char*>(data);
  for (int64_t done = 0; done < count; done += kMaxChunk) {
    const int n = static_cast<int>(std::min(kMaxChunk, count - done));
    MPI_Request request;
    start(bytes + done * wire_size(wire), n, &request);
    requests->pending.push_back(request);
  }
  return requests;
}

}  // namespace

bool mpi_compiled() { return true; }

void mpi_start(int& rank, int& size) {
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  LG_CHECK(provided >= MPI_THREAD_FUNNELED,
           "distributed: this MPI offers no MPI_THREAD_FUNNELED support (lasergrad's OpenMP "
           "threads need it)");
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
}

void mpi_stop() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void mpi_abort(int exit_code) {
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);  // MPI_Abort does not return; this is for the compiler
}

RequestsPtr mpi_iallreduce(void* data, int64_t count, Wire wire, ReduceOp op) {
  return chunked(data, count, wire, [&](void* chunk, int n, MPI_Request* request) {
    check(
        MPI_Iallreduce(MPI_IN_PLACE, chunk, n, datatype(wire), mpi_op(op), MPI_COMM_WORLD, request),
        "MPI_Iallreduce");
  });
}

RequestsPtr mpi_ibcast(void* data, int64_t nbytes, int root) {
  return chunked(data, nbytes, Wire::Byte, [&](void* chunk, int n, MPI_Request* request) {
    check(MPI_Ibcast(chunk, n, MPI_BYTE, root, MPI_COMM_WORLD, request), "MPI_Ibcast");
  });
}

RequestsPtr mpi_ibarrier() {
  RequestsPtr requests(new Requests);
  requests->pending.emplace_back();
  check(MPI_Ibarrier(MPI_COMM_WORLD, &requests->pending.back()), "MPI_Ibarrier");
  return requests;
}

bool mpi_test(Requests& requests) {
  if (requests.pending.empty()) return true;
  int done = 0;
  check(MPI_Testall(static_cast<int>(requests.pending.size()), requests.pending.data(), &done,
                    MPI_STATUSES_IGNORE),
        "MPI_Testall");
  if (done) requests.pending.clear();
  return done != 0;
}

#else  // built without MPI

struct Requests {};

void RequestsDeleter::operator()(Requests* requests) const { delete requests; }

namespace {
[[noreturn]] void refuse() {
  lg::detail::fail("distributed: built without MPI: install libopenmpi-dev and rebuild");
}
}  // namespace

bool mpi_compiled() { return false; }
void mpi_start(int&, int&) { refuse(); }
void mpi_stop() {}
void mpi_abort(int exit_code) { std::_Exit(exit_code); }
RequestsPtr mpi_iallreduce(void*, int64_t, Wire, ReduceOp) { refuse(); }
RequestsPtr mpi_ibcast(void*, int64_t, int) { refuse(); }
RequestsPtr mpi_ibarrier() { refuse(); }
bool mpi_test(Requests&) { return true; }

#endif

}  // namespace lg::distributed::detail
