// Reading and writing the safetensors format (github.com/huggingface/safetensors),
// the file a lasergrad state_dict shares with PyTorch, numpy and JAX users.
// Layout: an 8-byte little-endian header length N, N bytes of JSON naming each
// tensor's dtype, shape and [begin, end) byte range, then the data buffer.
//
// Written dtypes: F32, F64, I64, BOOL. Read: those, plus BF16 and F16
// (converted to float32, which holds every value of both exactly).
// Tied weights (several names for one tensor view) are stored once, under the
// first name in sorted order; each other name is recorded in "__metadata__" as
// "lasergrad.alias.<name>": "<stored name>". Readers that do not know the key
// (Python's safetensors.torch.load_model) see the tensor once and fill the tied
// names from it; lasergrad's reader maps every alias to the very same Tensor.
#pragma once
#include <cstddef>
#include <string>

#include "state_dict.h"

namespace lg {

// The metadata key prefix that marks a tied-weight alias (reserved on write).
inline constexpr const char* kSafetensorsAliasPrefix = "lasergrad.alias.";

struct SafetensorsFile {
  StateDict tensors;  // aliases included, each the same Tensor as its stored name
  Metadata metadata;  // "__metadata__" without the alias entries
};

// Writes atomically: a temporary file in the same directory, fsync, rename over
// path, fsync of the directory. A tensor on another device or with a
// non-contiguous layout is written as its contiguous CPU copy.
void save_safetensors(const std::string& path, const StateDict& tensors,
                      const Metadata& metadata = {});
StateDict load_safetensors(const std::string& path);
SafetensorsFile read_safetensors(const std::string& path);

// The in-memory forms of the above (the same bytes as the file).
std::string serialize_safetensors(const StateDict& tensors, const Metadata& metadata = {});
SafetensorsFile parse_safetensors(const void* data, size_t size);

namespace detail {
// The workers behind the public functions; `who` starts every error message
// (e.g. "save_checkpoint"), so that the checkpoint functions name themselves.
void write_safetensors_file(const std::string& who, const std::string& path,
                            const StateDict& tensors, const Metadata& metadata);
SafetensorsFile read_safetensors_file(const std::string& who, const std::string& path);
}  // namespace detail

}  // namespace lg
