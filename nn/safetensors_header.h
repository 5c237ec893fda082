// The safetensors JSON header, parsed into a plain description and validated
// before any tensor memory is allocated (internal to nn/safetensors.cpp).
#pragma once
#include <lasergrad/core/dtype.h>
#include <lasergrad/nn/state_dict.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lg::detail {

// Limits the header a reader accepts, as the reference implementation does.
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;

struct SafetensorsEntry {
  std::string dtype;  // the file's dtype name ("F32", "BF16", ...)
  std::vector<uint64_t> shape;
  uint64_t begin = 0, end = 0;  // byte range in the data buffer
  // Filled by validate_safetensors_header:
  DType out_dtype = kFloat32;  // what it becomes in memory
  size_t file_itemsize = 0;
  Shape tensor_shape;
};

struct SafetensorsHeader {
  std::map<std::string, SafetensorsEntry> tensors;
  Metadata metadata;
};

// Parses the JSON text; throws lg::Error "<where>: <problem>" on anything
// that is not the safetensors schema (wrong types, duplicate or unknown keys).
SafetensorsHeader parse_safetensors_header(const std::string& where, const char* json, size_t size);

// Checks dtypes, shapes against byte ranges, and that the ranges tile the
// buffer of buffer_size bytes exactly (no overlap, hole or unused tail).
void validate_safetensors_header(const std::string& where, SafetensorsHeader& header,
                                 uint64_t buffer_size);

}  // namespace lg::detail
