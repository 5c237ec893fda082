// One trainer per run folder: two runs on the same --out would interleave
// their metrics and race for the checkpoint, so each run holds an exclusive
// lock on <out>/lock for its whole life. flock(2) locks die with the process,
// so a crashed or killed run never leaves the folder locked.
#pragma once
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace examples {

// A mistake in what the user asked for (a flag, an input, a busy folder):
// the trainers report it in one line and exit with status 2, as for a bad flag.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a RunLock does when another process holds the folder.
enum class IfBusy {
  Refuse,  // throw InputError at once (a run folder: two runs must not share it)
  Wait,    // say so on stderr once, then wait until it is free (a shared input
           // folder another run is preparing: its second user waits its turn)
};

class RunLock {
 public:
  // Creates dir if needed and locks it; where another process holds it,
  // throws InputError naming the pid of the run holding it ("... in use by
  // another <program> run (pid N)"), or waits (IfBusy::Wait). Throws
  // std::runtime_error when the lock file cannot be made.
  explicit RunLock(const std::filesystem::path& dir, const std::string& program = "training",
                   IfBusy if_busy = IfBusy::Refuse);
  ~RunLock();
  RunLock(RunLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

// Removes the temporary files an atomic write of one of files (names inside
// dir) leaves when its process is killed: "<name>.tmp.<pid>" and
// "<name>.tmp.<pid>.<n>". Only safe while holding dir's RunLock. Where
// dir/<name> is a symlink, the writer's temporary files go beside its final
// target, "<target name>.tmp.<pid>[.<n>]" in the target's folder, which the
// lock does not cover: there only those of pids no live process has are
// removed. Returns how many were removed.
int remove_stale_temp_files(const std::filesystem::path& dir,
                            const std::vector<std::string>& files);

// What a trainer does first with its run folder: lock it, refuse it (InputError)
// where one of files exists and is not a regular file (symlinks followed), then
// (no live writer can own them now) remove the stale temp files of files, and ignore SIGXFSZ so
// that a write past `ulimit -f` fails with EFBIG, reported and cleaned up,
// instead of killing the process mid-write.
RunLock claim_run_folder(const std::filesystem::path& dir, const std::vector<std::string>& files,
                         const std::string& program = "training", IfBusy if_busy = IfBusy::Refuse);

}  // namespace examples
