// Ctrl-C and SIGTERM for training loops: the first SIGINT or SIGTERM only sets
// a flag, which the loop polls to save a checkpoint and exit with 128 + the
// signal's number (130, 143: what a shell reports for a process the signal
// killed); a second one exits at once.
#pragma once

namespace examples {

inline constexpr int kInterruptedExitCode = 130;  // 128 + SIGINT, as shells report it

void install_interrupt_handler();
bool interrupted();
// 128 + the first signal received (kInterruptedExitCode for SIGINT).
int interrupted_exit_code();

}  // namespace examples
