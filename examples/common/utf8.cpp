#include "utf8.h"

#include <cstdio>
#include <stdexcept>

namespace examples {
namespace {

[[noreturn]] void invalid(std::string_view bytes, size_t offset, const char* reason) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "invalid UTF-8 at byte offset %zu (0x%02X): %s", offset,
                static_cast<unsigned>(static_cast<unsigned char>(bytes[offset])), reason);
  throw std::runtime_error(buf);
}

}  // namespace

std::u32string decode_utf8(std::string_view bytes) {
  std::u32string out;
  out.reserve(bytes.size());
  size_t i = 0;
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") i = 3;
  while (i < bytes.size()) {
    const auto lead = static_cast<unsigned char>(bytes[i]);
    if (lead < 0x80) {
      out.push_back(lead);
      ++i;
      continue;
    }
    int length;
    char32_t c;
    // The smallest second byte allowed (no overlong forms) and the largest (no
    // surrogates, nothing above U+10FFFF).
    unsigned char low = 0x80, high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
      c = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      c = lead & 0x0F;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      c = lead & 0x07;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    } else if (lead >= 0x80 && lead <= 0xBF) {
      invalid(bytes, i, "continuation byte without a lead byte");
    } else if (lead == 0xC0 || lead == 0xC1) {
      invalid(bytes, i, "overlong encoding");
    } else {
      invalid(bytes, i, "byte never used in UTF-8");
    }
    if (i + static_cast<size_t>(length) > bytes.size())
      invalid(bytes, i, "sequence truncated by the end of the text");
    for (int k = 1; k < length; ++k) {
      const auto b = static_cast<unsigned char>(bytes[i + k]);
      const unsigned char lo = k == 1 ? low : 0x80, hi = k == 1 ? high : 0xBF;
      if (b < lo || b > hi) {
        if (b < 0x80 || b > 0xBF)
          invalid(bytes, i, "sequence cut short by a non-continuation byte");
        invalid(bytes, i,
                lead == 0xED   ? "surrogate code point"
                : lead == 0xF4 ? "code point above U+10FFFF"
                               : "overlong encoding");
      }
      c = (c << 6) | (b & 0x3F);
    }
    out.push_back(c);
    i += static_cast<size_t>(length);
  }
  return out;
}

std::string encode_utf8(char32_t c) {
  if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
    throw std::runtime_error("encode_utf8: " + code_point_name(c) +
                             " is not a Unicode scalar value");
  std::string out;
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
  return out;
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) out += encode_utf8(c);
  return out;
}

std::string code_point_name(char32_t c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(c));
  return buf;
}

}  // namespace examples
