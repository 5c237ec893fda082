#include "interrupt.h"

#include <unistd.h>

#include <csignal>

namespace examples {
namespace {

volatile std::sig_atomic_t interrupt_count = 0;

extern "C" void on_sigint(int) {
  interrupt_count = interrupt_count + 1;
  if (interrupt_count >= 2) ::_exit(kInterruptedExitCode);  // async-signal-safe
  static const char note[] = "\ninterrupted: saving a checkpoint (Ctrl-C again to quit now)\n";
  ssize_t ignored = ::write(STDERR_FILENO, note, sizeof note - 1);
  (void)ignored;
}

}  // namespace

void install_interrupt_handler() {
  struct sigaction action = {};
  action.sa_handler = on_sigint;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
}

bool interrupted() { return interrupt_count > 0; }

}  // namespace examples
