// How a trainer runs as one rank of several (`mpirun -np N lg-gpt ...`, see
// docs/distributed.md): every rank trains on its own part of each batch, the
// gradients are averaged (lg::distributed::DistributedDataParallel, which
// run_training sets up), and rank 0 alone prints and writes the run folder.
#pragma once
#include <lasergrad/core/random.h>

#include <cstdint>
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

// Threads for --threads 0: the machine's cores shared among the ranks on it.
int default_threads();

// Rank r's random stream: rank 0 keeps the run's own (so one process runs as
// before); the others get seeds of their own, so that their dropout masks and
// augmentations differ from rank 0's.
uint64_t rank_seed(uint64_t seed, int rank);

}  // namespace examples
