// Files the way lasergrad's savers and loaders handle them, public so that
// programs built on it write and read their own files the same way: atomic
// replacement of a file that only ever replaces a regular file, and whole
// reads of a regular file of bounded size. POSIX. Every error is an lg::Error
// whose message starts with `who` (left out when empty) and names the path.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>

namespace lg {

// Appends n bytes to the file being written.
using ByteSink = std::function<void(const void* data, size_t n)>;

// Calls write(sink), where sink appends to a new temporary file
// "<target>.tmp.<pid>.<n>" beside the target, then fsyncs it, puts it in the
// target's place and fsyncs the folder: after a crash the target holds the
// old file or the complete new one, never part of one. On any failure
// (including an exception from write) the temporary file is removed and the
// target is left as it was. The parent folder must exist.
//
// The target is path, or where path is a symlink (to a symlink...) its final
// target, which is replaced while the link stays (as writing through the link
// would). Only a regular file is ever replaced: a FIFO, device node, socket or
// folder there is refused before anything is written, and again at the
// moment of the replacement. The data only ever goes into the temporary file
// (opened O_EXCL), never into whatever sits at the target.
//
// The replacement is one renameat2(2) call: RENAME_NOREPLACE where there was
// no file, RENAME_EXCHANGE where there was one, after which what came back is
// checked; a FIFO, device, folder or symlink that took the file's place after
// the check is swapped back and the write refused. The residual window: on a
// file system without these flags (renameat2 fails with EINVAL; some network
// and FUSE file systems), a plain rename(2) follows a fresh lstat(2) check,
// and a node swapped in between those two calls is replaced by the new file
// (a folder makes rename fail instead); nothing is written into it either way.
void write_file_atomically(const std::string& who, const std::string& path,
                           const std::function<void(const ByteSink&)>& write);
// The same with the bytes at hand.
void write_file_atomically(const std::string& who, const std::string& path, std::string_view bytes);

// The file write_file_atomically(who, path, ...) replaces: path, or the final
// target of a chain of symlinks (which need not exist yet). Throws where that
// is not a regular file, as the writer would.
std::string atomic_write_target(const std::string& who, const std::string& path);

inline constexpr uint64_t kNoFileSizeLimit = std::numeric_limits<uint64_t>::max();

// Why path (symlinks followed) cannot be read as an input: it cannot be
// inspected (missing...), is not a regular file (a FIFO would block, a device
// such as /dev/zero may never end), or is larger than max_bytes. Empty when it
// can. The message starts with "<who> <path>" (or the path alone), e.g.
// "--data in.txt: not a regular file (it is a FIFO)" or "--data in.txt is 10
// bytes, above --max-data-bytes 9 (raise it to read this file)", where
// limit_name ("--max-data-bytes") names the limit.
std::string regular_file_problem(const std::string& who, const std::string& path,
                                 uint64_t max_bytes = kNoFileSizeLimit,
                                 const std::string& limit_name = "the size limit");

// The bytes of path, checked as regular_file_problem does but on the opened
// file itself (so a FIFO swapped in after a check neither blocks nor passes)
// and again while reading (a file that grows past max_bytes); throws lg::Error
// with regular_file_problem's messages, or naming the failed open or read.
std::string read_regular_file(const std::string& who, const std::string& path,
                              uint64_t max_bytes = kNoFileSizeLimit,
                              const std::string& limit_name = "the size limit");

}  // namespace lg
