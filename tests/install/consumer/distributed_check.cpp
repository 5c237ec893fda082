// Checks that the installed package's lasergrad::distributed links (MPI found
// again through the package config where the build had it) and runs as a
// single process: rank 0 of 1, all_reduce the identity.
#include <lasergrad/distributed/distributed.h>
#include <lasergrad/lasergrad.h>

#include <cstdio>

int main() {
  namespace dist = lg::distributed;
  dist::init();
  lg::Tensor t = lg::full({4}, 2.5f);
  dist::all_reduce(t, dist::ReduceOp::Mean);
  std::printf("distributed: rank %d of %d, MPI %s\n", dist::rank(), dist::world_size(),
              dist::built_with_mpi() ? "built in" : "absent");
  return dist::rank() == 0 && dist::world_size() == 1 && t.sum().item<float>() == 10.0f ? 0 : 1;
}
