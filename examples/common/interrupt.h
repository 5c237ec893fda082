// Ctrl-C for training loops: the first SIGINT only sets a flag, which the loop
// polls to save a checkpoint and exit with 130; a second SIGINT exits at once.
#pragma once

namespace examples {

inline constexpr int kInterruptedExitCode = 130;  // 128 + SIGINT, as shells report it

void install_interrupt_handler();
bool interrupted();

}  // namespace examples
