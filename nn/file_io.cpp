#include "file_io.h"

#include <fcntl.h>
#include <lasergrad/core/error.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace lg {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Throws lg::Error: "who: " and the rest, or the rest alone when who is empty.
template <typename... Args>
[[noreturn]] void fail(const std::string& who, const Args&... args) {
  detail::fail(who.empty() ? std::string() : who + ": ", args...);
}

std::string quoted(const std::string& path) { return "'" + path + "'"; }

const char* file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symlink";
  return "not a plain file";
}

// What is wrong with an input of this status (name starts the message), or empty.
std::string status_problem(const std::string& name, const struct stat& st, uint64_t max_bytes,
                           const std::string& limit_name) {
  if (!S_ISREG(st.st_mode))
    return name + ": not a regular file (it is " + file_kind(st.st_mode) + ")";
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes)
    return name + " is " + std::to_string(size) + " bytes, above " + limit_name + " " +
           std::to_string(max_bytes) + " (raise it to read this file)";
  return {};
}

// "who path", or the path alone: how the whole-file reader names its input.
std::string named(const std::string& who, const std::string& path) {
  return who.empty() ? path : who + " " + path;
}

// Opens path for reading without blocking on a FIFO (which would wait for a
// writer); -1 and errno on failure.
int open_for_reading(const std::string& path) {
  return ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string parent_directory(const std::string& path) {
  std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

// Closes fd and unlinks the temporary file unless released, so that every
// early exit (an error or an exception from the writer) cleans up.
class TempFile {
 public:
  TempFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!released_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  int close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }
  void release() { released_ = true; }

 private:
  std::string path_;
  int fd_;
  bool released_ = false;
};

// " (the symlink 'path' leads to it)" where the target is not path itself.
std::string via_link(const std::string& path, const std::string& target) {
  return target == path ? std::string() : " (the symlink " + quoted(path) + " leads to it)";
}

[[noreturn]] void refuse_special(const std::string& who, const std::string& path,
                                 const std::string& target, mode_t mode) {
  fail(who, quoted(target), " is ", file_kind(mode), ", not a regular file; refusing to replace it",
       via_link(path, target));
}

// Whether target exists now as a regular file (false: it does not exist);
// throws where it is anything else. No symlink is followed.
bool target_is_regular_file(const std::string& who, const std::string& path,
                            const std::string& target) {
  struct stat st {};
  if (::lstat(target.c_str(), &st) != 0) {
    if (errno == ENOENT) return false;
    fail(who, "cannot inspect ", quoted(target), ": ", errno_text(errno));
  }
  if (!S_ISREG(st.st_mode)) refuse_special(who, path, target, st.st_mode);
  return true;
}

bool flags_unsupported(int err) { return err == EINVAL || err == ENOSYS || err == ENOTSUP; }

// Puts the finished temporary file in target's place, replacing only a
// regular file, checked at the moment of the replacement where the file
// system allows it (see files.h). On return the temporary name is gone.
void publish(const std::string& who, const std::string& path, const std::string& target,
             TempFile& temp) {
  const char* from = temp.path().c_str();
  const char* to = target.c_str();
  // A few rounds: each ends where the target changed between the check and the call.
  for (int round = 0; round < 8; ++round) {
    const bool exists = target_is_regular_file(who, path, target);
    const unsigned flags = exists ? RENAME_EXCHANGE : RENAME_NOREPLACE;
    if (::renameat2(AT_FDCWD, from, AT_FDCWD, to, flags) == 0) {
      if (!exists) {
        temp.release();
        return;
      }
      // The temporary name now holds what was at the target.
      struct stat old {};
      const bool regular = ::lstat(from, &old) == 0 && S_ISREG(old.st_mode);
      if (regular) return;  // TempFile's destructor unlinks the old file
      // A FIFO, device, folder or link took the file's place after the check: put it back.
      if (::renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_EXCHANGE) != 0) {
        temp.release();  // the temporary name holds the user's node: leave it
        fail(who, quoted(target), " was replaced by ", file_kind(old.st_mode),
             " while it was written, and putting that back failed (it is now ", quoted(temp.path()),
             "): ", errno_text(errno));
      }
      refuse_special(who, path, target, old.st_mode);
    }
    const int err = errno;
    if ((exists && err == ENOENT) || (!exists && err == EEXIST)) continue;  // it changed
    if (!flags_unsupported(err))
      fail(who, "cannot rename ", quoted(temp.path()), " to ", quoted(target), ": ",
           errno_text(err));
    // No flags on this file system: a plain rename right after a fresh check.
    target_is_regular_file(who, path, target);
    if (::rename(from, to) != 0)
      fail(who, "cannot rename ", quoted(temp.path()), " to ", quoted(target), ": ",
           errno_text(errno));
    temp.release();
    return;
  }
  fail(who, quoted(target), " kept changing while it was written; giving up");
}

// Makes the rename durable: the folder's entry is synced too.
void sync_directory(const std::string& who, const std::string& path, const std::string& dir) {
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    fail(who, quoted(path), " was written but its directory ", quoted(dir),
         " cannot be opened to sync it: ", errno_text(errno));
  int rc = ::fsync(dfd);
  int err = errno;
  ::close(dfd);
  // Some file systems cannot sync a directory (EINVAL); the data is in place.
  if (rc != 0 && err != EINVAL)
    fail(who, quoted(path), " was written but syncing directory ", quoted(dir),
         " failed: ", errno_text(err));
}

}  // namespace

std::string atomic_write_target(const std::string& who, const std::string& path) {
  if (path.empty()) fail(who, "empty file path");
  std::string target = path;
  for (int hops = 0; hops < 40; ++hops) {  // 40: the kernel's own limit on symlink hops
    struct stat st {};
    if (::lstat(target.c_str(), &st) != 0) {
      if (errno != ENOENT) fail(who, "cannot inspect ", quoted(target), ": ", errno_text(errno));
      return target;  // a new file
    }
    if (S_ISREG(st.st_mode)) return target;
    if (!S_ISLNK(st.st_mode)) refuse_special(who, path, target, st.st_mode);
    std::error_code ec;
    const std::filesystem::path link = std::filesystem::read_symlink(target, ec);
    if (ec) fail(who, "cannot read the symlink ", quoted(target), ": ", ec.message());
    target = link.is_absolute() ? link.string()
                                : (std::filesystem::path(target).parent_path() / link).string();
  }
  fail(who, quoted(path), ": too many levels of symbolic links");
}

void write_file_atomically(const std::string& who, const std::string& path_arg,
                           const std::function<void(const ByteSink&)>& write) {
  const std::string path = atomic_write_target(who, path_arg);
  const std::string dir = parent_directory(path);
  // A name no other writer (thread or process) picks: pid plus a counter; O_EXCL
  // guards against a stale file left by a killed process with the same pid.
  static std::atomic<uint64_t> counter{0};
  int fd = -1;
  std::string temp;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    temp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    // 0666 before the umask: the same permissions an ordinary fopen would give.
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0)
    fail(who, "cannot create a temporary file in directory ", quoted(dir), " for ", quoted(path),
         ": ", errno_text(errno));
  TempFile file(temp, fd);

  ByteSink sink = [&](const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t put = ::write(file.fd(), p, n);
      if (put < 0 && errno == EINTR) continue;
      if (put <= 0) fail(who, "writing ", quoted(file.path()), " failed: ", errno_text(errno));
      p += put;
      n -= static_cast<size_t>(put);
    }
  };
  write(sink);
  // Data first on disk, then the name: after a crash the path holds either the
  // old file or the complete new one.
  if (::fsync(file.fd()) != 0)
    fail(who, "fsync of ", quoted(file.path()), " failed: ", errno_text(errno));
  if (file.close() != 0) fail(who, "closing ", quoted(file.path()), " failed: ", errno_text(errno));
  publish(who, path_arg, path, file);
  sync_directory(who, path, dir);
}

void write_file_atomically(const std::string& who, const std::string& path,
                           std::string_view bytes) {
  write_file_atomically(who, path, [&](const ByteSink& sink) { sink(bytes.data(), bytes.size()); });
}

std::string regular_file_problem(const std::string& who, const std::string& path,
                                 uint64_t max_bytes, const std::string& limit_name) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return named(who, path) + ": " + errno_text(errno);
  return status_problem(named(who, path), st, max_bytes, limit_name);
}

std::string read_regular_file(const std::string& who, const std::string& path, uint64_t max_bytes,
                              const std::string& limit_name) {
  const std::string name = named(who, path);
  const Fd fd(open_for_reading(path));
  if (fd.get() < 0) detail::fail(name, ": cannot open: ", errno_text(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) detail::fail(name, ": ", errno_text(errno));
  if (std::string problem = status_problem(name, st, max_bytes, limit_name); !problem.empty())
    detail::fail(problem);
  std::string bytes;
  bytes.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t got = ::read(fd.get(), buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) detail::fail(name, ": read error: ", errno_text(errno));
    if (got == 0) return bytes;
    bytes.append(buf, static_cast<size_t>(got));
    // The file grew past the limit while it was read.
    if (bytes.size() > max_bytes) {
      st.st_size = static_cast<off_t>(bytes.size());
      detail::fail(status_problem(name, st, max_bytes, limit_name));
    }
  }
}

namespace detail {

InputFile::InputFile(const std::string& who, const std::string& path) : who_(who), path_(path) {
  fd_ = open_for_reading(path);
  LG_CHECK(fd_ >= 0, who_, ": cannot open '", path_, "': ", errno_text(errno));
  struct stat st {};
  const int rc = ::fstat(fd_, &st);
  const int err = errno;
  std::string problem = rc != 0
                            ? who_ + ": '" + path_ + "': " + errno_text(err)
                            : status_problem(who_ + ": '" + path_ + "'", st, kNoFileSizeLimit, {});
  if (!problem.empty()) {
    ::close(fd_);
    fd_ = -1;
    fail(problem);
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

void InputFile::read(uint64_t offset, void* dst, size_t n) const {
  LG_CHECK(offset <= size_ && n <= size_ - offset, who_, ": '", path_, "': reading ", n,
           " bytes at offset ", offset, " would pass the end of the file (", size_, " bytes)");
  char* out = static_cast<char*>(dst);
  while (n > 0) {
    ssize_t got = ::pread(fd_, out, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    LG_CHECK(got >= 0, who_, ": '", path_, "': read failed at offset ", offset, ": ",
             errno_text(errno));
    // The file shrank after it was opened.
    LG_CHECK(got > 0, who_, ": '", path_, "': unexpected end of file at offset ", offset);
    out += got;
    offset += static_cast<uint64_t>(got);
    n -= static_cast<size_t>(got);
  }
}

}  // namespace detail
}  // namespace lg
