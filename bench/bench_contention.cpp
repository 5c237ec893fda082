// lg-bench contention: the GPT training step of train-gpt-ops on a quiet
// machine, then again while busy processes compete for the cores (each a
// plain spin loop this benchmark starts and stops, bounded by --max-seconds
// and killed with it), and the ratio of the two medians. On a 2-core machine
// with 2 threads and one competitor, losing one core should cost about 2x;
// threads that spin while waiting cost more. What the OpenMP threads do while
// idle is printed with the machine line (lasergrad's start-up sets a short
// spin unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set; see README).
//   lg-bench contention --threads 2 --runs 7
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "bench_gpt_step.h"
#include "bench_util.h"

namespace lg::bench {
namespace {

struct Config {
  int competitors = 1;
  int max_seconds = 600;  // a competitor never outlives this, nor this program
  std::string attention = "laser";
};

double monotonic_seconds() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// Busy processes, stopped (SIGKILL, then reaped) when this goes out of scope.
class Competitors {
 public:
  Competitors(int n, int max_seconds) {
    for (int i = 0; i < n; ++i) {
      const pid_t pid = ::fork();
      LG_CHECK(pid >= 0, "lg-bench contention: cannot start a competing process");
      if (pid == 0) spin(max_seconds);  // never returns
      pids_.push_back(pid);
    }
  }
  ~Competitors() {
    for (pid_t pid : pids_) ::kill(pid, SIGKILL);
    for (pid_t pid : pids_) ::waitpid(pid, nullptr, 0);
  }
  Competitors(const Competitors&) = delete;
  Competitors& operator=(const Competitors&) = delete;

 private:
  // The child of a multi-threaded parent: only async-signal-safe calls here.
  [[noreturn]] static void spin(int max_seconds) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // dies with the benchmark
    const double end = monotonic_seconds() + max_seconds;
    volatile unsigned long work = 0;
    while (monotonic_seconds() < end)
      for (int i = 0; i < 100000; ++i) work = work + 1;
    ::_exit(0);
  }
  std::vector<pid_t> pids_;
};

void run(const Common& common, const Config& c) {
  LG_CHECK(common.device == "cpu", "lg-bench contention: cpu only");
  LG_CHECK(c.competitors >= 1, "lg-bench contention: --competitors must be at least 1, got ",
           c.competitors);
  GptStepConfig step_config;
  step_config.attention = c.attention;
  GptSteps steps(step_config);
  const double quiet = median(steps.run(common.warmup, common.runs).total);
  double busy = 0;
  {
    Competitors competing(c.competitors, c.max_seconds);
    busy = median(steps.run(1, common.runs).total);
  }
  std::printf(
      "{\"bench\":\"contention\",\"workload\":\"train_gpt\",\"attention\":\"%s\",\"threads\":%d,"
      "\"competitors\":%d,\"quiet_step_ms\":%.2f,\"busy_step_ms\":%.2f,\"slowdown\":%.3f,"
      "\"openmp_wait\":\"%s\"}\n",
      c.attention.c_str(), get_num_threads(), c.competitors, quiet, busy, busy / quiet,
      openmp_wait_policy().c_str());
  std::fflush(stdout);
  std::fprintf(stderr,
               "contention: GPT step %.1f ms quiet, %.1f ms with %d busy process%s: %.2fx "
               "(%d threads)\n",
               quiet, busy, c.competitors, c.competitors == 1 ? "" : "es", busy / quiet,
               get_num_threads());
}

}  // namespace

Runner setup_contention(CLI::App& cmd) {
  auto c = std::make_shared<Config>();
  cmd.add_option("--competitors", c->competitors, "Busy processes started for the second timing")
      ->capture_default_str();
  cmd.add_option("--max-seconds", c->max_seconds, "No competitor runs longer than this")
      ->capture_default_str();
  cmd.add_option("--attention", c->attention, "laser or softmax")
      ->check(CLI::IsMember({"laser", "softmax"}))
      ->capture_default_str();
  return [c](const Common& common) { run(common, *c); };
}

}  // namespace lg::bench
