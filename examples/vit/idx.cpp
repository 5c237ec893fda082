#include "idx.h"

#include <zlib.h>

#include <climits>
#include <cstdio>
#include <stdexcept>

#include "common/files.h"

namespace vit {
namespace {

std::string hex_byte(uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", b);
  return buf;
}

// IDX's element types, for the message that refuses them.
std::string type_name(uint8_t type) {
  switch (type) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return "not an IDX type";
  }
}

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) s += ',';
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

uint32_t big_endian_u32(std::string_view bytes, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[at + i]);
  return v;
}

bool is_gzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<uint8_t>(bytes[0]) == 0x1f &&
         static_cast<uint8_t>(bytes[1]) == 0x8b;
}

constexpr size_t kMaxHeaderBytes = 4 + 4 * 4;

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw std::runtime_error(name + ": " + what);
}

}  // namespace

std::string gunzip(const std::string& name, std::string_view compressed, uint64_t max_bytes) {
  if (compressed.size() > UINT_MAX)
    fail(name, "gzip data of " + std::to_string(compressed.size()) + " bytes is too large");
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) fail(name, "zlib cannot start decompressing");
  struct Ender {
    z_stream* z;
    ~Ender() { inflateEnd(z); }
  } ender{&z};
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char buf[1 << 16];
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    const int rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
    if (out.size() > max_bytes)
      fail(name, "the gzip data decompresses to more than " + std::to_string(max_bytes) + " bytes");
    if (rc == Z_OK) continue;
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0) return out;
      // gzip allows several members one after another; anything else is an error.
      const std::string_view rest(reinterpret_cast<const char*>(z.next_in), z.avail_in);
      if (!is_gzip(rest))
        fail(name, std::to_string(rest.size()) + " trailing bytes after the end of the gzip data");
      inflateReset(&z);
      continue;
    }
    if (rc == Z_BUF_ERROR && z.avail_in == 0)
      fail(name, "truncated gzip data (the compressed stream ends early, after " +
                     std::to_string(out.size()) + " decompressed bytes)");
    fail(name, std::string("corrupt gzip data (zlib: ") + (z.msg ? z.msg : zError(rc)) + ")");
  }
}

IdxArray parse_idx(const std::string& name, std::string_view bytes, uint64_t max_bytes) {
  if (bytes.size() < 4)
    fail(name, "too short for an IDX file (" + std::to_string(bytes.size()) +
                   " bytes; the header alone is at least 8)");
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(bytes[i]); };
  if (byte(0) != 0 || byte(1) != 0)
    fail(name, "not an IDX file (its first bytes are " + hex_byte(byte(0)) + " " +
                   hex_byte(byte(1)) + ", an IDX file starts with 0x00 0x00)");
  if (byte(2) != 0x08)
    fail(name, "IDX element type " + hex_byte(byte(2)) + " (" + type_name(byte(2)) +
                   ") is not supported: only 0x08 (unsigned byte)");
  const size_t ndim = byte(3);
  if (ndim < 1 || ndim > 4)
    fail(name, "the IDX header gives " + std::to_string(ndim) + " dimensions (1 to 4 expected)");
  const size_t header = 4 + 4 * ndim;
  if (bytes.size() < header)
    fail(name, "truncated IDX header: expected " + std::to_string(header) + " bytes, found " +
                   std::to_string(bytes.size()));
  IdxArray a;
  uint64_t count = 1;
  for (size_t i = 0; i < ndim; ++i) {
    const uint32_t d = big_endian_u32(bytes, 4 + 4 * i);
    a.dims.push_back(d);
    if (d == 0) fail(name, "dimension " + std::to_string(i) + " of the IDX header is 0");
    if (count > max_bytes / d)
      fail(name, "the IDX header's dimensions " + dims_text(a.dims) + "... make more than " +
                     std::to_string(max_bytes) + " bytes, the limit");
    count *= d;
  }
  const uint64_t payload = bytes.size() - header;
  if (payload < count)
    fail(name, "truncated: the IDX header's dimensions " + dims_text(a.dims) + " need " +
                   std::to_string(count) + " bytes of data, found " + std::to_string(payload));
  if (payload > count)
    fail(name, std::to_string(payload - count) + " trailing bytes after the " +
                   std::to_string(count) + " bytes of data that the IDX header's dimensions " +
                   dims_text(a.dims) + " announce");
  a.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return a;
}

IdxArray read_idx(const std::filesystem::path& path, uint64_t max_bytes) {
  const std::string name = path.string();
  // Room for the header and for gzip's framing of incompressible data.
  const uint64_t file_limit = max_bytes >= examples::kNoSizeLimit / 2
                                  ? examples::kNoSizeLimit
                                  : max_bytes + max_bytes / 64 + (uint64_t{1} << 16);
  const std::string bytes = examples::read_input_file("", path, file_limit, "the IDX size limit");
  if (!is_gzip(bytes)) return parse_idx(name, bytes, max_bytes);
  return parse_idx(name, gunzip(name, bytes, max_bytes + kMaxHeaderBytes), max_bytes);
}

}  // namespace vit
