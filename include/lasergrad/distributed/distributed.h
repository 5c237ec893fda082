// lg::distributed: collectives across the processes of an MPI job (Open MPI
// for CPU tensors, NCCL for CUDA tensors), the layer data-parallel training
// sits on. Started as a single process (no mpirun) it is rank 0 of 1 and
// every call is the identity. docs/distributed.md is the user guide.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../core/tensor.h"

namespace lg::distributed {

enum class ReduceOp { Sum, Mean, Max };
const char* reduce_op_name(ReduceOp op);  // "Sum", "Mean", "Max"

struct InitOptions {
  // The longest any collective may wait for the other ranks before the job
  // is ended (MPI_Abort). 0: $LG_DISTRIBUTED_TIMEOUT (seconds) or 300 s.
  double timeout_s = 0;
};

// Idempotent. Under mpirun (OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_SIZE set)
// it starts MPI (MPI_Init_thread, FUNNELED or better) and registers
// finalize() at exit; otherwise the process is rank 0 of 1 and MPI is never
// started. Call the collectives from the thread that called init().
void init(InitOptions options = {});
bool is_initialized();
bool built_with_mpi();
bool built_with_nccl();
int rank();                // 0 before init and in a single process
int world_size();          // 1 before init and in a single process
int local_rank();          // the rank among this machine's ranks (OMPI_COMM_WORLD_LOCAL_RANK)
double timeout_seconds();  // the bound init() settled on

// In place, on every rank the same dtype and number of elements: float32,
// float64 or int64 (Mean: float32 or float64). A non-contiguous CPU tensor
// is copied into contiguous memory and back. Ranks whose tensors differ in
// dtype, element count, device type or op throw lg::Error, all of them.
void all_reduce(Tensor& t, ReduceOp op = ReduceOp::Sum);
// In place: every rank gets root's values (any dtype; same check as all_reduce).
void broadcast(Tensor& t, int root = 0);
void barrier();
// Small host values, e.g. a loss to average for printing.
std::vector<double> all_reduce(std::vector<double> values, ReduceOp op);
// root's bytes on every rank (the others' argument is ignored), e.g. a checkpoint file.
std::string broadcast_bytes(std::string bytes, int root = 0);

// Throws lg::Error on every rank when any rank's signature differs (length
// or any element), naming `what`: for layouts checked once, e.g. the
// data-parallel wrapper's buckets, before all_reduce_async runs unchecked.
void check_same_across_ranks(const std::vector<int64_t>& signature, const std::string& what);

// An all_reduce in flight: holds its tensor alive until done. Destroying an
// unfinished Work waits for it (bounded by the timeout).
class Work {
 public:
  struct State;
  Work();  // a finished Work with nothing to do
  explicit Work(std::unique_ptr<State> state);
  Work(Work&&) noexcept;
  Work& operator=(Work&&) noexcept;
  ~Work();

  bool test();                    // drives progress; true when done (Mean's division done too)
  void wait();                    // bounded by the timeout
  double waited_seconds() const;  // time spent inside wait()

 private:
  std::unique_ptr<State> state_;
};
// t contiguous (the result lands in t's memory); no cross-rank check: every
// rank must start the same sequence of these.
Work all_reduce_async(Tensor t, ReduceOp op = ReduceOp::Sum);

// Ends every rank now (MPI_Abort; std::_Exit in a single process) after a
// one-line message "lasergrad: rank R: why" on stderr.
[[noreturn]] void abort(int exit_code, const std::string& why);
// Ends MPI (idempotent; init() registers it at exit). Afterwards init() and
// any collective of a multi-rank job throw lg::Error: MPI cannot start again.
void finalize();

}  // namespace lg::distributed
