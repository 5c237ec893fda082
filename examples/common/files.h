// File helpers shared by the example trainers: whole-file reads with clear
// errors, atomic writes (a reader never sees half a file), and the cache folder
// where prepared data sets are kept between runs.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>

namespace examples {

// The file's bytes; throws std::runtime_error naming the path and the reason.
std::string read_file(const std::filesystem::path& path);

// Writes bytes to a temporary file beside path, then renames it over path, so
// that an interrupted write leaves either the old file or none; creates the
// parent folders. Throws std::runtime_error naming the path on failure.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

// $XDG_CACHE_HOME/lasergrad, else $HOME/.cache/lasergrad (not created here).
std::filesystem::path cache_dir();

// The full path of an executable found on $PATH, or empty.
std::filesystem::path find_on_path(const std::string& program);

}  // namespace examples
