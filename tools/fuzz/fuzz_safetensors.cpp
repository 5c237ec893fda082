// libFuzzer target for the safetensors reader: any input either parses or
// throws lg::Error; anything else (a crash, a sanitizer report, another
// exception type) is a bug. A parsed file must also survive a re-save: writing
// what was read and reading it back gives the same names, values and metadata.
#include <lasergrad/nn/safetensors.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace {

bool same_bytes(const lg::Tensor& a, const lg::Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  size_t n = static_cast<size_t>(a.numel()) * lg::element_size(a.dtype());
  return n == 0 || std::memcmp(a.contiguous().raw_data(), b.contiguous().raw_data(), n) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lg::SafetensorsFile file;
  try {
    file = lg::parse_safetensors(data, size);
  } catch (const lg::Error&) {
    return 0;
  }
  std::string again = lg::serialize_safetensors(file.tensors, file.metadata);
  lg::SafetensorsFile back = lg::parse_safetensors(again.data(), again.size());
  if (back.metadata != file.metadata || back.tensors.size() != file.tensors.size()) std::abort();
  for (const auto& [name, t] : file.tensors) {
    auto it = back.tensors.find(name);
    if (it == back.tensors.end() || !same_bytes(it->second, t)) std::abort();
  }
  return 0;
}
