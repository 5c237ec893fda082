// A two-rank job that goes wrong on purpose, for fault_test.sh: "skip" has
// rank 1 miss a collective (rank 0 must time out), "exit" has rank 1 return
// from main early (rank 0 must time out too), "kill" has rank 1 die by
// SIGKILL halfway through a loop of all_reduces (mpirun must end the job).
#include <lasergrad/distributed/distributed.h>
#include <lasergrad/lasergrad.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

namespace dist = lg::distributed;

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode != "skip" && mode != "exit" && mode != "kill") {
    std::fprintf(stderr, "usage: %s skip|exit|kill\n", argv[0]);
    return 2;
  }
  dist::init();
  lg::Tensor t = lg::ones({1000});
  for (int step = 0; step < 20; ++step) {
    if (step == 5 && dist::rank() == 1) {
      if (mode == "kill") std::raise(SIGKILL);
      if (mode == "exit") return 0;
      std::this_thread::sleep_for(std::chrono::seconds(120));
    }
    dist::all_reduce(t);
  }
  std::printf("rank %d: finished all steps\n", dist::rank());
  return 0;
}
