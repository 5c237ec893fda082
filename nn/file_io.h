// File access for serialization: bounded reads at offsets of a regular file
// (the atomic writer and whole-file reads are public, in
// <lasergrad/nn/files.h>). POSIX.
#pragma once
#include <lasergrad/nn/files.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace lg::detail {

// A regular file opened for reading; its size is taken once, and every read
// is checked against it, so a short or shrinking file is an lg::Error. A path
// that is not a regular file is refused on the opened file, with
// regular_file_problem's message ("who: 'path': not a regular file (...)").
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

}  // namespace lg::detail
