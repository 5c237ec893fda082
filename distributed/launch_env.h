// What the environment says about how this process was started (by mpirun
// or alone) and the collective timeout: plain functions of the variables'
// values, so that the tests check them without MPI or a launcher.
#pragma once
#include <functional>
#include <string>

namespace lg::distributed::detail {

// Looks a variable up: nullptr when unset (std::getenv, or a test's table).
using EnvLookup = std::function<const char*(const char*)>;

struct LaunchInfo {
  bool launched = false;  // a launcher's variables are set (mpirun, PMIx, PMI)
  int world_size = 1;     // 0: launched, but the size is not in the environment
  int rank = 0;
  int local_rank = 0;
};

// From OMPI_COMM_WORLD_SIZE/RANK/LOCAL_RANK, PMIX_RANK, PMI_SIZE/PMI_RANK;
// a malformed value throws lg::Error naming the variable.
LaunchInfo launch_info(const EnvLookup& env);
// True when more than one rank is certain: what a build without MPI refuses.
bool needs_mpi(const LaunchInfo& info);
// option_s > 0 wins; then LG_DISTRIBUTED_TIMEOUT (positive seconds, else
// lg::Error); then 300.
double timeout_from(double option_s, const EnvLookup& env);

}  // namespace lg::distributed::detail
