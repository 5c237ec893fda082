#include "interrupt.h"

#include <unistd.h>

#include <csignal>

namespace examples {
namespace {

volatile std::sig_atomic_t interrupt_count = 0;
volatile std::sig_atomic_t first_signal = 0;

extern "C" void on_interrupt(int signal) {
  interrupt_count = interrupt_count + 1;
  if (interrupt_count == 1) first_signal = signal;
  if (interrupt_count >= 2) ::_exit(128 + signal);  // async-signal-safe
  static const char note[] = "\ninterrupted: saving a checkpoint (Ctrl-C again to quit now)\n";
  ssize_t ignored = ::write(STDERR_FILENO, note, sizeof note - 1);
  (void)ignored;
}

}  // namespace

void install_interrupt_handler() {
  struct sigaction action = {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  // SIGTERM (kill, systemd, a batch scheduler's time limit) saves the work too.
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool interrupted() { return interrupt_count > 0; }

int interrupted_exit_code() {
  return first_signal != 0 ? 128 + first_signal : kInterruptedExitCode;
}

}  // namespace examples
