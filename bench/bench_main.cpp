// lg-bench: lasergrad's benchmarks, one subcommand per op family, each
// against its strongest baseline (the composite formula, raw OpenBLAS).
//   lg-bench                 run every benchmark with its defaults (but contention)
//   lg-bench softmax --runs 20 --threads 2
// Adding a benchmark: write bench/bench_<name>.cpp defining setup_<name>, then
// declare it and add its row to kBenches below.
#include <lasergrad/cuda.h>

#include <cstdio>

#include "bench_util.h"

namespace lg::bench {
Runner setup_softmax(CLI::App& cmd);
Runner setup_layer_norm(CLI::App& cmd);
Runner setup_conv(CLI::App& cmd);
Runner setup_attention(CLI::App& cmd);
Runner setup_train_gpt_ops(CLI::App& cmd);
Runner setup_adamw(CLI::App& cmd);
Runner setup_contention(CLI::App& cmd);
}  // namespace lg::bench

namespace {

struct Entry {
  const char* name;
  const char* description;
  lg::bench::Setup setup;
  bool in_all = true;  // run by a bare `lg-bench`
};

const Entry kBenches[] = {
    {"softmax", "fused vs composite softmax, log_softmax and cross_entropy",
     lg::bench::setup_softmax},
    {"layer_norm", "fused layer_norm forward and backward vs its composite formula",
     lg::bench::setup_layer_norm},
    {"conv", "conv1d/conv2d: im2col + GEMM vs direct vs a composite of slices and matmul",
     lg::bench::setup_conv},
    {"attention", "fused LASER and softmax attention vs their composite formulas",
     lg::bench::setup_attention},
    {"train-gpt-ops", "a GPT training step (issue #6) written with ops directly: step time, memory",
     lg::bench::setup_train_gpt_ops},
    {"adamw", "fused AdamW step (adam_step kernel) vs its in-place tensor-op reference",
     lg::bench::setup_adamw},
    {"contention", "the GPT step quiet and with busy processes competing for the cores",
     lg::bench::setup_contention, /*in_all=*/false},
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lasergrad benchmarks: JSON lines on stdout, a table on stderr"};
  lg::bench::Common common;
  app.add_option("--warmup", common.warmup, "Untimed calls before timing")->capture_default_str();
  app.add_option("--runs", common.runs, "Timed calls (the median is reported)")
      ->capture_default_str();
  app.add_option("--threads", common.threads, "CPU threads (0: OpenMP's default)")
      ->capture_default_str();
  app.add_option("--device", common.device, "cpu or cuda")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  app.add_option("--cpu-isa", common.cpu_isa,
                 "CPU vector path: avx512, avx2, baseline or best (as LG_CPU_ISA)")
      ->capture_default_str();
  app.require_subcommand(0, 1);
  struct Command {
    CLI::App* cmd;
    lg::bench::Runner run;
    bool in_all;
  };
  std::vector<Command> commands;
  for (const Entry& e : kBenches) {
    CLI::App* cmd = app.add_subcommand(e.name, e.description);
    cmd->fallthrough();  // common options may follow the subcommand
    commands.push_back({cmd, e.setup(*cmd), e.in_all});
  }
  CLI11_PARSE(app, argc, argv);
  if (common.device == "cuda" && !lg::cuda::is_available()) {
    std::fprintf(stderr,
                 "lg-bench: --device cuda: no usable CUDA device (or this build has no CUDA "
                 "backend)\n");
    return 1;
  }
  try {
    if (common.threads > 0) lg::set_num_threads(common.threads);
    if (!common.cpu_isa.empty()) lg::set_cpu_isa(common.cpu_isa);
    lg::bench::report_machine(common);
    bool any = false;
    for (const Command& c : commands) any = any || c.cmd->parsed();
    for (const Command& c : commands)
      if (any ? c.cmd->parsed() : c.in_all) c.run(common);
  } catch (const lg::Error& e) {
    std::fprintf(stderr, "lg-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
