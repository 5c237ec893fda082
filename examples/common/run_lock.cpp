#include "run_lock.h"

#include <fcntl.h>
#include <lasergrad/core/error.h>
#include <lasergrad/nn/files.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <csignal>
#include <cstring>
#include <string_view>

#include "files.h"
#include "interrupt.h"

namespace examples {
namespace {

std::string errno_text() { return std::strerror(errno); }

// The pid the holder wrote into the lock file, or "unknown" (it may not have
// written it yet).
std::string holder_pid(int fd) {
  char buf[32] = {};
  const ssize_t got = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string pid = got > 0 ? std::string(buf, static_cast<size_t>(got)) : "";
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid.empty() ? "unknown" : pid;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// "<pid>" or "<pid>.<n>": the suffixes our atomic writes put after ".tmp.".
bool is_temp_suffix(std::string_view s) {
  const size_t dot = s.find('.');
  if (dot == std::string_view::npos) return all_digits(s);
  return all_digits(s.substr(0, dot)) && all_digits(s.substr(dot + 1));
}

// Whether the pid of a temp suffix is of no live process (false where unsure).
bool writer_is_dead(std::string_view suffix) {
  const std::string_view digits = suffix.substr(0, suffix.find('.'));
  if (digits.size() > 9) return false;  // not a pid this system gives; leave it be
  const auto pid = static_cast<pid_t>(std::stol(std::string(digits)));
  return pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH;
}

// Removes dir's "<name>.tmp.<pid>[.<n>]" files for each name in names (only
// those whose writer is dead, dead_only); returns how many.
int remove_temp_files(const std::filesystem::path& dir, const std::vector<std::string>& names,
                      bool dead_only) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    for (const std::string& file : names) {
      const std::string prefix = file + ".tmp.";
      if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
      const std::string_view suffix = std::string_view(name).substr(prefix.size());
      if (!is_temp_suffix(suffix) || (dead_only && !writer_is_dead(suffix))) continue;
      std::error_code ignored;
      if (entry.is_regular_file(ignored) && std::filesystem::remove(entry.path(), ignored))
        ++removed;
    }
  }
  return removed;
}

}  // namespace

RunLock::RunLock(const std::filesystem::path& dir, const std::string& program, IfBusy if_busy) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw std::runtime_error(dir.string() + ": cannot create the run folder: " + ec.message());
  const std::filesystem::path path = dir / "lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
  if (fd_ < 0)
    throw std::runtime_error(path.string() + ": cannot open the lock file: " + errno_text());
  bool said_waiting = false;
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EINTR) continue;
    const std::string pid = err == EWOULDBLOCK ? holder_pid(fd_) : "";
    if (err == EWOULDBLOCK && if_busy == IfBusy::Wait) {
      if (!said_waiting)
        std::fprintf(stderr, "%s: %s is in use by another %s run (pid %s): waiting for it\n",
                     program.c_str(), dir.c_str(), program.c_str(), pid.c_str());
      said_waiting = true;
      if (interrupted()) {
        ::close(fd_);
        throw std::runtime_error(program + ": interrupted while waiting for " + dir.string());
      }
      // Polled rather than a blocking flock, which a signal handler without
      // SA_RESTART would interrupt and one with it would make deaf to Ctrl-C.
      ::usleep(100 * 1000);
      continue;
    }
    ::close(fd_);
    if (err != EWOULDBLOCK)
      throw std::runtime_error(path.string() + ": cannot lock: " + std::strerror(err));
    throw InputError(dir.string() + " is in use by another " + program + " run (pid " + pid + ")");
  }
  // For the message of a run refused above; the lock itself is the flock.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
    // Not fatal: the folder is locked all the same, only the message lacks the pid.
  }
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

int remove_stale_temp_files(const std::filesystem::path& dir,
                            const std::vector<std::string>& files) {
  int removed = remove_temp_files(dir, files, false);
  for (const std::string& file : files) {
    std::error_code ec;
    if (!std::filesystem::is_symlink(dir / file, ec)) continue;
    std::filesystem::path target;
    try {
      target = lg::atomic_write_target("", (dir / file).string());
    } catch (const lg::Error&) {
      continue;  // not a file the writer would replace: claim_run_folder refuses it
    }
    // Other runs may write there: only the files of dead writers go.
    const std::filesystem::path target_dir =
        target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
    removed += remove_temp_files(target_dir, {target.filename().string()}, true);
  }
  return removed;
}

// Refuses, before any training, a run folder where one of files (through any
// symlinks) is a FIFO, device or folder: reading it could block, and the
// writers would refuse it only at the first save.
static void require_regular_files(const std::filesystem::path& dir,
                                  const std::vector<std::string>& files) {
  for (const std::string& file : files) {
    std::error_code ec;
    if (!std::filesystem::exists(dir / file, ec)) continue;  // made by this run
    if (std::string problem = input_file_problem("run folder file", dir / file); !problem.empty())
      throw InputError(problem);
  }
}

RunLock claim_run_folder(const std::filesystem::path& dir, const std::vector<std::string>& files,
                         const std::string& program, IfBusy if_busy) {
  RunLock lock(dir, program, if_busy);
  require_regular_files(dir, files);
  remove_stale_temp_files(dir, files);
  std::signal(SIGXFSZ, SIG_IGN);
  return lock;
}

}  // namespace examples
