#include "files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace examples {
namespace {

// "who path", or the path alone when who is empty.
std::string named(const std::string& who, const std::filesystem::path& path) {
  return who.empty() ? path.string() : who + " " + path.string();
}

const char* file_kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a plain file";
}

// The problem with a file of this status, or empty.
std::string status_problem(const std::string& who, const std::filesystem::path& path,
                           const struct stat& st, uint64_t max_bytes,
                           const std::string& limit_flag) {
  const std::string name = named(who, path);
  if (!S_ISREG(st.st_mode))
    return name + ": not a regular file (it is " + file_kind(st.st_mode) + ")";
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes)
    return name + " is " + std::to_string(size) + " bytes, above " + limit_flag + " " +
           std::to_string(max_bytes) + " (raise it to read this file)";
  return {};
}

}  // namespace

std::string input_file_problem(const std::string& who, const std::filesystem::path& path,
                               uint64_t max_bytes, const std::string& limit_flag) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return named(who, path) + ": " + std::strerror(errno);
  return status_problem(who, path, st, max_bytes, limit_flag);
}

std::string read_input_file(const std::string& who, const std::filesystem::path& path,
                            uint64_t max_bytes, const std::string& limit_flag) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    throw std::runtime_error(named(who, path) + ": cannot open: " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    throw std::runtime_error(named(who, path) + ": " + std::strerror(errno));
  if (std::string problem = status_problem(who, path, st, max_bytes, limit_flag); !problem.empty())
    throw std::runtime_error(problem);
  std::string bytes;
  bytes.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0)
      throw std::runtime_error(named(who, path) + ": read error: " + std::strerror(errno));
    if (got == 0) return bytes;
    bytes.append(buf, static_cast<size_t>(got));
    // The file grew past the limit while it was read.
    if (bytes.size() > max_bytes) {
      st.st_size = static_cast<off_t>(bytes.size());
      throw std::runtime_error(status_problem(who, path, st, max_bytes, limit_flag));
    }
  }
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot open: " + std::strerror(errno));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw std::runtime_error(path.string() + ": read error");
  return std::move(bytes).str();
}

std::string fnv1a64_hex(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;                            // the FNV offset basis
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;  // the FNV prime
  char buf[32];
  std::snprintf(buf, sizeof buf, "fnv1a64:%016llx", static_cast<unsigned long long>(h));
  return buf;
}

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) throw std::runtime_error(path.parent_path().string() + ": " + ec.message());
  }
  // The process id keeps two programs writing the same file at once apart.
  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(tmp.string() + ": cannot create: " + std::strerror(errno));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      std::filesystem::remove(tmp, ec);
      throw std::runtime_error(tmp.string() + ": write error");
    }
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw std::runtime_error(path.string() + ": cannot replace: " + ec.message());
  }
}

std::filesystem::path cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && *xdg == '/') return std::filesystem::path(xdg) / "lasergrad";
  const char* home = std::getenv("HOME");
  if (home != nullptr && *home != '\0') return std::filesystem::path(home) / ".cache" / "lasergrad";
  return std::filesystem::temp_directory_path() / "lasergrad-cache";
}

std::filesystem::path find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  std::stringstream stream(dirs);
  for (std::string dir; std::getline(stream, dir, ':');) {
    if (dir.empty()) continue;
    std::filesystem::path candidate = std::filesystem::path(dir) / program;
    if (::access(candidate.c_str(), X_OK) == 0 && !std::filesystem::is_directory(candidate))
      return candidate;
  }
  return {};
}

}  // namespace examples
