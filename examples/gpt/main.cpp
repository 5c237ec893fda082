// lg-gpt: trains a character-level GPT (LASER or softmax attention) on a text,
// by default the King James Bible, and samples from it. See lg-gpt --help.
#include <lasergrad/lasergrad.h>

#include <cstdio>
#include <exception>
#include <iostream>

#include "cli.h"
#include "common/run_lock.h"
#include "modes.h"

int main(int argc, char** argv) {
  gpt::TrainConfig config;
  if (std::optional<int> status = gpt::parse_command_line(argc, argv, config, std::cout, std::cerr))
    return *status;
  try {
    if (config.bench) return gpt::bench(config);
    if (config.sample > 0) return gpt::sample(config);
    return gpt::train(config);
  } catch (const examples::InputError& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "lg-gpt: %s\n", e.what());
    return 2;  // like a bad flag
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "lg-gpt: %s\n", e.what());
    return 1;
  }
}
