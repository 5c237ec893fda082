#include "file_io.h"

#include <fcntl.h>
#include <lasergrad/core/error.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace lg::detail {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

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

// The file a write to path lands on: path itself, or, where path is a
// symlink (to a symlink...), its final target, so that the atomic rename
// replaces the target and keeps the link, as writing through it would (what
// torch.save does). Anything else that exists there (a FIFO, a device node, a
// directory) is refused: the rename would replace it.
std::string write_target(const std::string& who, const std::string& path) {
  std::string target = path;
  for (int hops = 0; hops < 40; ++hops) {  // 40: the kernel's own limit on symlink hops
    struct stat st {};
    if (::lstat(target.c_str(), &st) != 0) {
      LG_CHECK(errno == ENOENT, who, ": cannot inspect '", target, "': ", errno_text(errno));
      return target;  // a new file
    }
    if (S_ISREG(st.st_mode)) return target;
    LG_CHECK(S_ISLNK(st.st_mode), who, ": '", target,
             "' exists and is not a regular file; refusing to replace it",
             target == path ? std::string() : " (the symlink '" + path + "' leads to it)");
    std::error_code ec;
    const std::filesystem::path link = std::filesystem::read_symlink(target, ec);
    LG_CHECK(!ec, who, ": cannot read the symlink '", target, "': ", ec.message());
    target = link.is_absolute() ? link.string()
                                : (std::filesystem::path(target).parent_path() / link).string();
  }
  LG_CHECK(false, who, ": '", path, "': too many levels of symbolic links");
  return target;
}

}  // namespace

InputFile::InputFile(const std::string& who, const std::string& path) : who_(who), path_(path) {
  // O_NONBLOCK: opening a FIFO waits for a writer; fstat below then refuses it.
  fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  LG_CHECK(fd_ >= 0, who_, ": cannot open '", path_, "': ", errno_text(errno));
  struct stat st {};
  int rc = ::fstat(fd_, &st);
  int err = rc != 0 ? errno : 0;
  if (rc != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    LG_CHECK(false, who_, ": '", path_, "' is not a readable regular file",
             rc == 0 && S_ISDIR(st.st_mode) ? " (it is a directory)" : "",
             err != 0 ? ": " + errno_text(err) : std::string());
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

void write_file_atomically(const std::string& who, const std::string& path_arg,
                           const std::function<void(const ByteSink&)>& write) {
  LG_CHECK(!path_arg.empty(), who, ": empty file path");
  const std::string path = write_target(who, path_arg);
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
  LG_CHECK(fd >= 0, who, ": cannot create a temporary file in directory '", dir, "' for '", path,
           "': ", errno_text(errno));
  TempFile file(temp, fd);

  ByteSink sink = [&](const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t put = ::write(file.fd(), p, n);
      if (put < 0 && errno == EINTR) continue;
      LG_CHECK(put > 0, who, ": writing '", file.path(), "' failed: ", errno_text(errno));
      p += put;
      n -= static_cast<size_t>(put);
    }
  };
  write(sink);
  // Data first on disk, then the name: after a crash the path holds either the
  // old file or the complete new one.
  LG_CHECK(::fsync(file.fd()) == 0, who, ": fsync of '", file.path(),
           "' failed: ", errno_text(errno));
  LG_CHECK(file.close() == 0, who, ": closing '", file.path(), "' failed: ", errno_text(errno));
  LG_CHECK(::rename(file.path().c_str(), path.c_str()) == 0, who, ": cannot rename '", file.path(),
           "' to '", path, "': ", errno_text(errno));
  file.release();

  // The rename itself is durable only once the directory entry is synced.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  LG_CHECK(dfd >= 0, who, ": '", path, "' was written but its directory '", dir,
           "' cannot be opened to sync it: ", errno_text(errno));
  int rc = ::fsync(dfd);
  int err = errno;
  ::close(dfd);
  // Some file systems cannot sync a directory (EINVAL); the data is in place.
  LG_CHECK(rc == 0 || err == EINVAL, who, ": '", path, "' was written but syncing directory '", dir,
           "' failed: ", errno_text(err));
}

}  // namespace lg::detail
