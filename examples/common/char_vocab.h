// A character vocabulary over Unicode code points: id 0 is <unk> (any
// character the vocabulary was not built from), ids 1.. are the characters in
// code-point order. It round-trips through a string, for checkpoint metadata.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace examples {

class CharVocab {
 public:
  static constexpr int64_t kUnk = 0;
  static constexpr char32_t kUnkChar = U'\uFFFD';  // how <unk> is printed

  // Every distinct code point of text.
  static CharVocab build(std::u32string_view text);
  // From to_string(); throws std::runtime_error for a malformed string.
  static CharVocab from_string(std::string_view saved);
  // The characters (ids 1..) as UTF-8.
  std::string to_string() const;

  int64_t size() const { return static_cast<int64_t>(chars_.size()) + 1; }  // with <unk>
  int64_t id(char32_t c) const;
  bool contains(char32_t c) const { return ids_.count(c) != 0; }
  char32_t character(int64_t id) const;  // kUnkChar for <unk>; throws for an id out of range

  std::vector<int64_t> encode(std::u32string_view text) const;
  // Counts the characters that encode() mapped to <unk>.
  std::vector<int64_t> encode(std::u32string_view text, int64_t* unknown) const;
  std::u32string decode(const std::vector<int64_t>& ids) const;

 private:
  explicit CharVocab(std::u32string chars);
  std::u32string chars_;
  std::unordered_map<char32_t, int64_t> ids_;
};

}  // namespace examples
