// UTF-8 <-> Unicode code points, strict: text that is not valid UTF-8 is an
// error naming the byte offset, never silently replaced.
#pragma once
#include <string>
#include <string_view>

namespace examples {

// Decodes UTF-8 (a leading byte-order mark is dropped). Throws
// std::runtime_error "invalid UTF-8 at byte offset N (0xXX): reason" for a bad
// lead byte, a truncated or overlong sequence, a surrogate, or a code point
// above U+10FFFF.
std::u32string decode_utf8(std::string_view bytes);

// Encodes code points (each must be a valid scalar value) as UTF-8.
std::string encode_utf8(std::u32string_view text);
std::string encode_utf8(char32_t c);

// "U+00E9" for a code point.
std::string code_point_name(char32_t c);

}  // namespace examples
