// File helpers shared by the example trainers: whole-file reads with clear
// errors, atomic writes (a reader never sees half a file), and the cache folder
// where prepared data sets are kept between runs. The checked reads and the
// atomic writes are lasergrad's own (<lasergrad/nn/files.h>), under the names
// and signatures the trainers use.
#pragma once
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>

namespace examples {

// The file's bytes; throws std::runtime_error naming the path and the reason.
std::string read_file(const std::filesystem::path& path);

inline constexpr uint64_t kNoSizeLimit = std::numeric_limits<uint64_t>::max();

// Why path cannot be read as input (who names it in the message, e.g. "--data";
// empty: the message starts with the path):
// it is missing, not a regular file (a FIFO would block, /dev/zero never ends),
// or larger than max_bytes, which limit_flag raises. Empty when it can.
std::string input_file_problem(const std::string& who, const std::filesystem::path& path,
                               uint64_t max_bytes = kNoSizeLimit,
                               const std::string& limit_flag = {});

// The bytes of a regular file of at most max_bytes bytes, checked on the open
// file itself (so a FIFO swapped in after input_file_problem neither blocks nor
// passes); throws std::runtime_error with input_file_problem's messages.
std::string read_input_file(const std::string& who, const std::filesystem::path& path,
                            uint64_t max_bytes = kNoSizeLimit, const std::string& limit_flag = {});

// "fnv1a64:" and the 16 hex digits of the 64-bit FNV-1a hash of bytes: a
// content check (a text swapped for another), not a defence against forgery.
std::string fnv1a64_hex(std::string_view bytes);

// Creates the parent folders, then writes bytes with lg::write_file_atomically
// (<lasergrad/nn/files.h>): a temporary file beside the target, synced and
// renamed over it, so that a crash leaves the old file or the new one, never
// part of one; a symlink is written through; only a regular file is replaced.
// Throws std::runtime_error (lg::Error) naming the path on failure.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

// $XDG_CACHE_HOME/lasergrad, else $HOME/.cache/lasergrad (not created here).
std::filesystem::path cache_dir();

// The full path of an executable found on $PATH, or empty.
std::filesystem::path find_on_path(const std::string& program);

}  // namespace examples
