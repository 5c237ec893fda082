// File access for serialization: bounded reads of a regular file, and atomic
// replacement of a file (so a crash mid-save never leaves a half-written
// checkpoint where the last good one was). POSIX.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace lg::detail {

// A regular file opened for reading; its size is taken once, and every read
// is checked against it, so a short or shrinking file is an lg::Error.
class InputFile {
 public:
  InputFile(const std::string& who, const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  uint64_t size() const { return size_; }
  // Reads exactly n bytes at offset; throws lg::Error naming who and the path.
  void read(uint64_t offset, void* dst, size_t n) const;

 private:
  std::string who_, path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Calls write(sink) where sink appends bytes to a temporary file next to path,
// then fsyncs it, renames it over path and fsyncs the directory. On any
// failure (including an exception from write) the temporary file is removed,
// path is left as it was, and lg::Error names who, the path and the reason.
// A symlink at path is written through (its final target is replaced, in the
// target's directory); an existing path that is not a regular file is refused.
using ByteSink = std::function<void(const void* data, size_t n)>;
void write_file_atomically(const std::string& who, const std::string& path,
                           const std::function<void(const ByteSink&)>& write);

}  // namespace lg::detail
