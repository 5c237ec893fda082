// lg::distributed without mpirun: rank 0 of 1 and identity collectives, and
// the environment detection (launcher variables, the timeout) on made-up
// environments, which is all a build without MPI decides on.
#include <doctest/doctest.h>
#include <lasergrad/distributed/distributed.h>
#include <lasergrad/lasergrad.h>

#include <map>
#include <string>

#include "distributed/launch_env.h"

using namespace lg;
namespace dist = lg::distributed;
namespace ld = lg::distributed::detail;

namespace {

ld::EnvLookup env_of(std::map<std::string, std::string> vars) {
  auto table = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [table](const char* name) -> const char* {
    auto it = table->find(name);
    return it == table->end() ? nullptr : it->second.c_str();
  };
}

}  // namespace

TEST_CASE("without a launcher's variables the process is alone") {
  const ld::LaunchInfo info = ld::launch_info(env_of({{"PATH", "/usr/bin"}}));
  CHECK_FALSE(info.launched);
  CHECK(info.world_size == 1);
  CHECK(info.rank == 0);
  CHECK_FALSE(ld::needs_mpi(info));
}

TEST_CASE("Open MPI's variables give the size, rank and local rank") {
  const ld::LaunchInfo info = ld::launch_info(env_of({{"OMPI_COMM_WORLD_SIZE", "3"},
                                                      {"OMPI_COMM_WORLD_RANK", "2"},
                                                      {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}}));
  CHECK(info.launched);
  CHECK(info.world_size == 3);
  CHECK(info.rank == 2);
  CHECK(info.local_rank == 1);
  CHECK(ld::needs_mpi(info));
}

TEST_CASE("a launcher with one rank needs no MPI, a rank above 0 from PMIx or PMI does") {
  CHECK_FALSE(ld::needs_mpi(ld::launch_info(env_of({{"OMPI_COMM_WORLD_SIZE", "1"}}))));
  CHECK_FALSE(ld::needs_mpi(ld::launch_info(env_of({{"PMIX_RANK", "0"}}))));
  CHECK(ld::needs_mpi(ld::launch_info(env_of({{"PMIX_RANK", "1"}}))));
  CHECK(ld::needs_mpi(ld::launch_info(env_of({{"PMI_SIZE", "4"}}))));
}

TEST_CASE("a malformed launcher variable is an error naming it") {
  CHECK_THROWS_WITH_AS(ld::launch_info(env_of({{"OMPI_COMM_WORLD_SIZE", "two"}})),
                       doctest::Contains("OMPI_COMM_WORLD_SIZE='two'"), Error);
  CHECK_THROWS_WITH_AS(ld::launch_info(env_of({{"PMIX_RANK", "-1"}})),
                       doctest::Contains("PMIX_RANK"), Error);
}

TEST_CASE("the timeout: the option, then LG_DISTRIBUTED_TIMEOUT, then 300 s") {
  CHECK(ld::timeout_from(0, env_of({})) == 300);
  CHECK(ld::timeout_from(0, env_of({{"LG_DISTRIBUTED_TIMEOUT", "2.5"}})) == 2.5);
  CHECK(ld::timeout_from(7, env_of({{"LG_DISTRIBUTED_TIMEOUT", "2.5"}})) == 7);
  CHECK_THROWS_WITH_AS(ld::timeout_from(0, env_of({{"LG_DISTRIBUTED_TIMEOUT", "0"}})),
                       doctest::Contains("LG_DISTRIBUTED_TIMEOUT='0'"), Error);
  CHECK_THROWS_WITH_AS(ld::timeout_from(0, env_of({{"LG_DISTRIBUTED_TIMEOUT", "5s"}})),
                       doctest::Contains("not a positive number of seconds"), Error);
  CHECK_THROWS_WITH_AS(ld::timeout_from(-1, env_of({})), doctest::Contains("timeout_s"), Error);
}

TEST_CASE("a single process is rank 0 of 1 before and after init, and every call is the identity") {
  CHECK(dist::rank() == 0);
  CHECK(dist::world_size() == 1);
  dist::init({.timeout_s = 5});
  CHECK(dist::is_initialized());
  CHECK(dist::rank() == 0);
  CHECK(dist::world_size() == 1);
  CHECK(dist::local_rank() == 0);
  Tensor t = from_vector(std::vector<float>{1.5f, -2.0f});
  dist::all_reduce(t, dist::ReduceOp::Mean);
  CHECK(t.to_vector<float>() == std::vector<float>{1.5f, -2.0f});
  dist::broadcast(t, 0);
  CHECK(t.to_vector<float>() == std::vector<float>{1.5f, -2.0f});
  CHECK(dist::all_reduce({4.0}, dist::ReduceOp::Mean) == std::vector<double>{4.0});
  CHECK(dist::broadcast_bytes("abc") == "abc");
  dist::barrier();
  dist::check_same_across_ranks({1, 2}, "layout");
  dist::Work work = dist::all_reduce_async(t, dist::ReduceOp::Sum);
  CHECK(work.test());
  work.wait();
  CHECK(t.to_vector<float>() == std::vector<float>{1.5f, -2.0f});
}

TEST_CASE("a single process still rejects what no world size accepts") {
  Tensor flags = full({2}, true, {.dtype = kBool});
  CHECK_THROWS_WITH_AS(dist::all_reduce(flags), doctest::Contains("all_reduce: needs float32"),
                       Error);
  Tensor t = zeros({2});
  CHECK_THROWS_WITH_AS(dist::broadcast(t, 1), doctest::Contains("root 1 is not a rank"), Error);
  Tensor undefined;
  CHECK_THROWS_WITH_AS(dist::all_reduce(undefined), doctest::Contains("undefined"), Error);
}
