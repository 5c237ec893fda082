// lg-gpt: trains a character-level GPT (LASER or softmax attention) on a text,
// by default the King James Bible, and samples from it. See lg-gpt --help.
#include <lasergrad/lasergrad.h>

#include <cstdio>
#include <exception>
#include <iostream>

#include "cli.h"
#include "common/ranks.h"
#include "common/run_lock.h"
#include "modes.h"

int main(int argc, char** argv) {
  examples::join_ranks();  // one rank of several under mpirun
  gpt::TrainConfig config;
  if (std::optional<int> status = gpt::parse_command_line(argc, argv, config, std::cout, std::cerr))
    return *status;
  try {
    if (config.bench) return gpt::bench(config);
    if (config.sample > 0) return gpt::sample(config);
    if (!config.fill.empty()) return gpt::fill(config);
    return gpt::train(config);
  } catch (const std::exception& e) {
    // Bad flags and unusable inputs exit as a flag error does; anything else is a failure.
    const bool usage = dynamic_cast<const gpt::UsageError*>(&e) != nullptr ||
                       dynamic_cast<const examples::InputError*>(&e) != nullptr;
    return examples::exit_after_error("lg-gpt", e.what(), usage ? gpt::kUsageExitCode : 1);
  }
}
