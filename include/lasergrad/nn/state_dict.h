// A named collection of tensors: what Module::state_dict() returns, what an
// optimizer's state_dict() returns, and what a safetensors file holds.
#pragma once
#include <map>
#include <string>

#include "../core/tensor.h"

namespace lg {

// Sorted by name (a safetensors header is a JSON object, so file order carries
// no meaning). Two names may refer to the same tensor (tied weights).
using StateDict = std::map<std::string, Tensor>;

// String-to-string metadata, stored in a safetensors header's "__metadata__".
using Metadata = std::map<std::string, std::string>;

}  // namespace lg
