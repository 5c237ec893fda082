#include <lasergrad/core/grad_mode.h>
#include <lasergrad/nn/safetensors.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <tuple>

#include "file_io.h"
#include "safetensors_header.h"

namespace lg {

// Tensor bytes go to and from the file as they are in memory, and the format
// is little-endian.
static_assert(std::endian::native == std::endian::little,
              "safetensors I/O assumes a little-endian host");

namespace {

using json = nlohmann::json;
using detail::SafetensorsEntry;
using detail::SafetensorsHeader;

const char* file_dtype_name(DType t) {
  switch (t) {
    case DType::Float32:
      return "F32";
    case DType::Float64:
      return "F64";
    case DType::Int64:
      return "I64";
    case DType::Bool:
      break;
  }
  return "BOOL";
}

std::string in_quotes(const std::string& s) { return "'" + s + "'"; }

struct StoredTensor {
  const std::string* name;
  Tensor tensor;
  uint64_t nbytes;
};

// What goes into a file: the header bytes (length prefix included) and the
// tensors in data order. The tensors' bytes are produced one at a time when
// written, so a state_dict on the GPU is never copied to the host all at once.
struct WritePlan {
  std::string header;
  std::vector<StoredTensor> data;
};

WritePlan plan_write(const std::string& who, const StateDict& tensors, const Metadata& metadata) {
  Metadata meta = metadata;
  for (const auto& [key, value] : metadata)
    LG_CHECK(key.rfind(kSafetensorsAliasPrefix, 0) != 0, who, ": metadata key ", in_quotes(key),
             " uses the reserved prefix '", kSafetensorsAliasPrefix, "' (tied-weight aliases)");
  // Same storage, offset, shape, strides and dtype: the same values under two
  // names, stored once. std::map iterates names in sorted order, so the stored
  // name is the first one.
  using ViewKey = std::tuple<const Storage*, int64_t, Shape, Shape, DType>;
  std::map<ViewKey, const std::string*> stored_by_view;
  WritePlan plan;
  for (const auto& [name, t] : tensors) {
    LG_CHECK(name != "__metadata__", who, ": '__metadata__' cannot be a tensor name");
    LG_CHECK(t.defined(), who, ": tensor ", in_quotes(name), " is undefined");
    if (t.storage()) {
      ViewKey key{t.storage().get(), t.storage_offset(), t.shape(), t.strides(), t.dtype()};
      auto [it, inserted] = stored_by_view.emplace(key, &name);
      if (!inserted) {
        meta[kSafetensorsAliasPrefix + name] = *it->second;
        continue;
      }
    }
    plan.data.push_back({&name, t, static_cast<uint64_t>(t.numel()) * element_size(t.dtype())});
  }
  // Wider elements first: with the header padded to 8 bytes, every tensor then
  // starts at a multiple of its element size (what mmap-ing readers want).
  std::stable_sort(plan.data.begin(), plan.data.end(), [](const auto& a, const auto& b) {
    return element_size(a.tensor.dtype()) > element_size(b.tensor.dtype());
  });
  json header = json::object();
  uint64_t offset = 0;
  for (const StoredTensor& s : plan.data) {
    header[*s.name] = {{"dtype", file_dtype_name(s.tensor.dtype())},
                       {"shape", s.tensor.shape()},
                       {"data_offsets", {offset, offset + s.nbytes}}};
    offset += s.nbytes;
  }
  if (!meta.empty()) header["__metadata__"] = meta;
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    detail::fail(who, ": a tensor name or metadata string is not valid UTF-8: ", e.what());
  }
  // Spaces are JSON whitespace; the reference writer pads the same way.
  text.append((8 - text.size() % 8) % 8, ' ');
  uint64_t n = text.size();
  plan.header.resize(8);
  std::memcpy(plan.header.data(), &n, 8);
  plan.header += text;
  return plan;
}

void write_plan(const WritePlan& plan, const ByteSink& sink) {
  sink(plan.header.data(), plan.header.size());
  NoGradGuard no_grad;
  for (const StoredTensor& s : plan.data) {
    if (s.nbytes == 0) continue;
    Tensor host = s.tensor.detach().to(Device::cpu()).contiguous();
    sink(host.raw_data(), s.nbytes);
  }
}

float bf16_to_float(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

float f16_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf / nan (payload kept)
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 -> 127
  } else if (mant == 0) {
    bits = sign;  // signed zero
  } else {
    // Subnormal half: mant * 2^-24, exact in float.
    float v = static_cast<float>(mant) * 0x1p-24f;
    return sign ? -v : v;
  }
  return std::bit_cast<float>(bits);
}

// Reads n bytes at an absolute offset of the source (file or memory).
using ReadAt = std::function<void(uint64_t offset, void* dst, size_t n)>;

Tensor read_tensor(const SafetensorsEntry& e, uint64_t data_start, const ReadAt& read_at) {
  Tensor t = Tensor::empty(e.tensor_shape, e.out_dtype, Device::cpu());
  const uint64_t nbytes = e.end - e.begin;
  if (nbytes == 0) return t;
  if (e.file_itemsize == element_size(e.out_dtype)) {
    read_at(data_start + e.begin, t.raw_data(), nbytes);
    if (e.out_dtype == kBool) {
      // Any other byte value would not be a valid C++ bool.
      auto* p = static_cast<unsigned char*>(t.raw_data());
      for (uint64_t i = 0; i < nbytes; ++i) p[i] = p[i] != 0;
    }
    return t;
  }
  // Half-precision: convert in bounded chunks.
  const bool bf16 = e.dtype == "BF16";
  float* out = t.data_ptr<float>();
  std::vector<uint16_t> chunk(std::min<uint64_t>(nbytes / 2, 1 << 16));
  for (uint64_t done = 0; done < nbytes / 2;) {
    size_t n = std::min<uint64_t>(chunk.size(), nbytes / 2 - done);
    read_at(data_start + e.begin + 2 * done, chunk.data(), 2 * n);
    for (size_t i = 0; i < n; ++i)
      out[done + i] = bf16 ? bf16_to_float(chunk[i]) : f16_to_float(chunk[i]);
    done += n;
  }
  return t;
}

// Decodes a safetensors image of total_size bytes. Every size is checked
// against total_size before anything is read or allocated.
SafetensorsFile decode(const std::string& where, uint64_t total_size, const ReadAt& read_at) {
  LG_CHECK(total_size >= 8, where, ": ", total_size,
           " bytes is too short for the 8-byte header length");
  uint64_t n = 0;
  read_at(0, &n, 8);
  LG_CHECK(n <= detail::kMaxSafetensorsHeader, where, ": header length ", n,
           " exceeds the limit of ", detail::kMaxSafetensorsHeader, " bytes");
  LG_CHECK(n <= total_size - 8, where, ": header length ", n, " exceeds the ", total_size - 8,
           " bytes after the length field (truncated or not a safetensors file)");
  std::string text(n, '\0');
  read_at(8, text.data(), n);
  SafetensorsHeader header = detail::parse_safetensors_header(where, text.data(), text.size());
  detail::validate_safetensors_header(where, header, total_size - 8 - n);

  SafetensorsFile file;
  for (const auto& [key, value] : header.metadata) {
    if (key.rfind(kSafetensorsAliasPrefix, 0) != 0) {
      file.metadata.emplace(key, value);
      continue;
    }
    std::string alias = key.substr(std::strlen(kSafetensorsAliasPrefix));
    LG_CHECK(header.tensors.count(value), where, ": alias ", in_quotes(alias),
             " refers to the tensor ", in_quotes(value), " which the file does not hold");
    LG_CHECK(!header.tensors.count(alias), where, ": alias ", in_quotes(alias),
             " is also the name of a stored tensor");
    LG_CHECK(alias != "__metadata__", where, ": '__metadata__' cannot be an alias name");
  }
  for (const auto& [name, entry] : header.tensors)
    file.tensors.emplace(name, read_tensor(entry, 8 + n, read_at));
  for (const auto& [key, value] : header.metadata)
    if (key.rfind(kSafetensorsAliasPrefix, 0) == 0)
      file.tensors.emplace(key.substr(std::strlen(kSafetensorsAliasPrefix)),
                           file.tensors.at(value));
  return file;
}

}  // namespace

namespace detail {

void write_safetensors_file(const std::string& who, const std::string& path,
                            const StateDict& tensors, const Metadata& metadata) {
  WritePlan plan = plan_write(who, tensors, metadata);
  write_file_atomically(who, path, [&](const ByteSink& sink) { write_plan(plan, sink); });
}

SafetensorsFile read_safetensors_file(const std::string& who, const std::string& path) {
  InputFile file(who, path);
  return decode(who + ": " + in_quotes(path), file.size(),
                [&](uint64_t offset, void* dst, size_t n) { file.read(offset, dst, n); });
}

}  // namespace detail

void save_safetensors(const std::string& path, const StateDict& tensors, const Metadata& metadata) {
  detail::write_safetensors_file("save_safetensors", path, tensors, metadata);
}

StateDict load_safetensors(const std::string& path) {
  return detail::read_safetensors_file("load_safetensors", path).tensors;
}

SafetensorsFile read_safetensors(const std::string& path) {
  return detail::read_safetensors_file("read_safetensors", path);
}

std::string serialize_safetensors(const StateDict& tensors, const Metadata& metadata) {
  WritePlan plan = plan_write("serialize_safetensors", tensors, metadata);
  std::string out;
  write_plan(plan,
             [&](const void* data, size_t n) { out.append(static_cast<const char*>(data), n); });
  return out;
}

SafetensorsFile parse_safetensors(const void* data, size_t size) {
  LG_CHECK(data || size == 0, "parse_safetensors: <memory>: null data with size ", size);
  const char* bytes = static_cast<const char*>(data);
  // decode checks every range against size before reading it.
  return decode("parse_safetensors: <memory>", size, [&](uint64_t offset, void* dst, size_t n) {
    if (n) std::memcpy(dst, bytes + offset, n);
  });
}

}  // namespace lg
