// How a trainer runs as one rank of several (`mpirun -np N lg-gpt ...`, see
// docs/distributed.md): every rank trains on its own part of each batch, the
// gradients are averaged (lg::distributed::DistributedDataParallel, which
// run_training sets up), and rank 0 alone prints and writes the run folder.
#pragma once
#include <lasergrad/core/random.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace examples {

// lg::distributed::init(); on ranks other than 0, stdout goes to /dev/null so
// that one progress line is shown. A single process is rank 0 of 1.
void join_ranks();
int rank();
int world_size();

// The exit status after an error: with several ranks, the message (prefixed
// with the rank) and an end of every rank now, so that none waits for this
// one; alone, `code` after the message "program: message".
int exit_after_error(const std::string& program, const std::string& message, int code);

// The start-up line's words for several ranks: " per rank" after the batch
// size and " each, N ranks" after the thread count; "" in a single process.
std::string per_rank_words();
std::string ranks_words();

// Threads for --threads 0: the machine's cores shared among the ranks on it.
int default_threads();

// Rank r's random stream: rank 0 keeps the run's own (so one process runs as
// before); the others get seeds of their own, so that their dropout masks and
// augmentations differ from rank 0's.
uint64_t rank_seed(uint64_t seed, int rank);

// A rank's contiguous part [begin, end) of n items shared among `world`
// ranks: the first n % world ranks take one item more, so parts differ by at
// most one, and a rank gets none only where n < world. A batch of world * B
// items gives rank r the items [r * B, (r + 1) * B).
struct Share {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};
Share share_of(int64_t n, int rank, int world);
// This rank's part of items (share_of(items.size(), rank(), world_size())).
template <typename T>
std::vector<T> this_ranks_part(const std::vector<T>& items) {
  const Share s = share_of(static_cast<int64_t>(items.size()), rank(), world_size());
  return std::vector<T>(items.begin() + s.begin, items.begin() + s.end);
}

// Runs f on every rank in turn, rank 0 first, each after the one before has
// finished (a barrier between turns): for a step that locks a shared folder,
// e.g. a data cache one rank prepares and the others then reuse. Each wait is
// bounded by lg::distributed's timeout. An exception ends this rank's turn and
// is rethrown once every rank has had its turn.
void in_rank_order(const std::function<void()>& f);

}  // namespace examples
