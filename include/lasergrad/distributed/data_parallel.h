// Data-parallel training, as torch.nn.parallel.DistributedDataParallel: every
// rank holds the whole model and trains on its own part of each batch; the
// gradients are averaged across ranks during backward, so that every rank's
// optimizer takes the same step.
//
//   lg::distributed::init();
//   Model model(...);
//   lg::distributed::DistributedDataParallel ddp(model);  // rank 0's weights everywhere
//   ...  loss = model.forward(my_part_of_the_batch) ...
//   loss.backward();       // returns with .grad averaged over the ranks
//   optimizer.step();
//
// How: the parameters' gradients are grouped into buckets of about
// `bucket_mb` (in reverse order of parameters(), the order backward reaches
// them). A gradient-ready hook on each parameter copies its gradient into its
// bucket; a full bucket starts its all-reduce at once, so communication runs
// while backward computes the rest. At the end of backward (an end-of-backward
// callback) the remaining buckets are sent, every all-reduce is awaited and the
// averages are written back into .grad. Buckets always start in the same order
// on every rank, whatever order their gradients arrive in.
//
// Tied parameters (one tensor used twice) are one parameter. A parameter that
// gets no gradient in a backward (unused on this rank) takes part with zeros;
// its averaged gradient is set wherever any rank produced one, and it keeps no
// .grad only where no rank did. Buffers (batch-norm statistics) are broadcast
// from rank 0 after each synchronised backward (the next forward uses them).
// With one process (world_size() == 1) nothing is communicated.
#pragma once
#include <lasergrad/distributed/distributed.h>
#include <lasergrad/nn/module.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace lg::distributed {

struct DataParallelOptions {
  double bucket_mb = 25;          // MiB of gradients per all-reduce
  bool broadcast_buffers = true;  // rank 0's buffers to every rank after each backward
};

class DistributedDataParallel {
 public:
  // Checks that every rank has the same parameters (count, dtypes, shapes) and
  // buffers, then copies rank 0's values to all. Call init() first.
  explicit DistributedDataParallel(nn::Module& module, DataParallelOptions options = {});
  ~DistributedDataParallel();
  DistributedDataParallel(const DistributedDataParallel&) = delete;
  DistributedDataParallel& operator=(const DistributedDataParallel&) = delete;

  nn::Module& module() { return module_; }

  // While the guard lives, backward only accumulates this rank's gradients
  // (gradient accumulation over micro-batches); the first backward after it
  // averages everything accumulated.
  class NoSync {
   public:
    explicit NoSync(DistributedDataParallel& ddp) : ddp_(ddp) { ++ddp_.no_sync_depth_; }
    ~NoSync() { --ddp_.no_sync_depth_; }
    NoSync(const NoSync&) = delete;
    NoSync& operator=(const NoSync&) = delete;

   private:
    DistributedDataParallel& ddp_;
  };
  [[nodiscard]] NoSync no_sync() { return NoSync(*this); }

  // The last synchronised backward: buckets sent, the time backward's end spent
  // waiting for communication that had not finished behind it, bytes reduced.
  struct SyncStats {
    int64_t buckets = 0;
    int64_t started_during_backward = 0;  // buckets sent by gradient-ready hooks, before its end
    double wait_seconds = 0;
    int64_t bytes = 0;
  };
  const SyncStats& last_sync() const { return stats_; }
  // The buckets, as indices into the unique parameters (module.parameters()
  // order, tied ones once), in the order they are sent.
  std::vector<std::vector<int64_t>> bucket_parameters() const;

 private:
  struct Bucket;
  void assign_buckets(double bucket_mb);
  void check_same_model() const;
  void broadcast_state(bool parameters);
  void on_gradient_ready(int64_t index);
  void begin_backward();
  void launch_ready_buckets();
  void launch(Bucket& bucket);
  void finish_backward();
  void write_back(Bucket& bucket);

  nn::Module& module_;
  DataParallelOptions options_;
  std::vector<Tensor> params_;
  std::vector<int64_t> hook_handles_;
  std::vector<Bucket> buckets_;
  std::vector<std::pair<size_t, size_t>> slot_of_;  // parameter -> (bucket, slot)
  size_t next_launch_ = 0;
  bool in_backward_ = false;
  int no_sync_depth_ = 0;
  SyncStats stats_;
};

}  // namespace lg::distributed
