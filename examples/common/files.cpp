#include "files.h"

#include <lasergrad/nn/files.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace examples {

// The checks and the reads are lasergrad's (<lasergrad/nn/files.h>), whose
// messages are these functions' own; lg::Error is a std::runtime_error.
std::string input_file_problem(const std::string& who, const std::filesystem::path& path,
                               uint64_t max_bytes, const std::string& limit_flag) {
  return lg::regular_file_problem(who, path.string(), max_bytes, limit_flag);
}

std::string read_input_file(const std::string& who, const std::filesystem::path& path,
                            uint64_t max_bytes, const std::string& limit_flag) {
  return lg::read_regular_file(who, path.string(), max_bytes, limit_flag);
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
  if (path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) throw std::runtime_error(path.parent_path().string() + ": " + ec.message());
  }
  lg::write_file_atomically("", path.string(), bytes);
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
