// How many bytes of buffers conv's im2col path may use per chunk of samples
// (ops/conv.cpp). Not part of the public API: tests shrink it to cover the
// chunk boundaries with tiny inputs.
#pragma once
#include <cstdint>

namespace lg::detail {

// The column buffer (and output chunk) of the samples one chunk holds stays under
// this many bytes, but a chunk holds at least one sample. Default 64 MiB.
int64_t conv_chunk_bytes();
// Sets it (bytes >= 0; 0 means one sample per chunk) and returns the old value.
int64_t set_conv_chunk_bytes(int64_t bytes);

}  // namespace lg::detail
