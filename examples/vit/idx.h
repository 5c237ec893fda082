// A strict reader of the IDX files that MNIST-like data sets ship in (a magic
// number, big-endian dimensions, unsigned bytes), plain or gzipped.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace vit {

struct IdxArray {
  std::vector<int64_t> dims;  // e.g. [60000, 28, 28]
  std::vector<uint8_t> data;  // row-major, the product of dims bytes
};

// The largest payload read_idx accepts by default (60000 28x28 images are 47 MB).
inline constexpr uint64_t kMaxIdxBytes = uint64_t{1} << 31;

// Reads an IDX file of unsigned bytes (type 0x08) with 1 to 4 dimensions:
// gzipped when it starts with gzip's magic bytes 1f 8b (whatever its name),
// else raw. The file must be a regular file and the payload exactly what the
// header announces, at most max_bytes. Throws std::runtime_error whose message
// starts with the path and says what is wrong (bad magic, other type,
// truncated or trailing data, corrupt gzip, ...).
IdxArray read_idx(const std::filesystem::path& path, uint64_t max_bytes = kMaxIdxBytes);

// The same checks on bytes already in memory (not gzipped); `name` starts the
// messages.
IdxArray parse_idx(const std::string& name, std::string_view bytes,
                   uint64_t max_bytes = kMaxIdxBytes);

// The bytes of a gzip stream (one or more members), at most max_bytes of them;
// throws naming `name` on corrupt, truncated or oversized data.
std::string gunzip(const std::string& name, std::string_view compressed, uint64_t max_bytes);

}  // namespace vit
