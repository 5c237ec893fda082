// lg-speech's command line: CLI11 flags onto a SpeechConfig and the checks that
// span flags. Kept apart from main so that tests can parse without training.
#pragma once
#include <optional>
#include <ostream>

#include "speech_config.h"

namespace speech {

// Parses argv into config. Returns an exit status when the program should
// stop now: 0 after --help, examples::kUsageExitCode after a one-line error on err.
std::optional<int> parse_command_line(int argc, const char* const* argv, SpeechConfig& config,
                                      std::ostream& out, std::ostream& err);

}  // namespace speech
