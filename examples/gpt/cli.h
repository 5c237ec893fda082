// lg-gpt's command line: CLI11 flags onto a TrainConfig, and the checks that
// span flags. Kept apart from main so that tests can parse without training.
#pragma once
#include <optional>
#include <ostream>
#include <stdexcept>

#include "common/flags.h"
#include "train_config.h"

namespace gpt {

// Exit status for a bad flag or flag value (one line on `err`).
inline constexpr int kUsageExitCode = examples::kUsageExitCode;

// A bad input found after parsing (a --prompt character the text lacks):
// main reports it as a flag error, with kUsageExitCode.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses argv into config. Returns an exit status when the program should
// stop now: 0 after --help, kUsageExitCode after a one-line error on err.
std::optional<int> parse_command_line(int argc, const char* const* argv, TrainConfig& config,
                                      std::ostream& out, std::ostream& err);

}  // namespace gpt
