#include "char_vocab.h"

#include <algorithm>
#include <stdexcept>

#include "utf8.h"

namespace examples {

CharVocab::CharVocab(std::u32string chars) : chars_(std::move(chars)) {
  for (size_t i = 0; i < chars_.size(); ++i) {
    if (!ids_.emplace(chars_[i], static_cast<int64_t>(i) + 1).second)
      throw std::runtime_error("character vocabulary: " + code_point_name(chars_[i]) +
                               " appears twice");
  }
}

CharVocab CharVocab::build(std::u32string_view text) {
  std::u32string chars(text);
  std::sort(chars.begin(), chars.end());
  chars.erase(std::unique(chars.begin(), chars.end()), chars.end());
  return CharVocab(std::move(chars));
}

CharVocab CharVocab::from_string(std::string_view saved) {
  std::u32string chars;
  try {
    chars = decode_utf8(saved);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string("saved character vocabulary: ") + e.what());
  }
  if (!std::is_sorted(chars.begin(), chars.end()))
    throw std::runtime_error("saved character vocabulary: characters are not in code-point order");
  return CharVocab(std::move(chars));
}

std::string CharVocab::to_string() const { return encode_utf8(chars_); }

int64_t CharVocab::id(char32_t c) const {
  auto it = ids_.find(c);
  return it == ids_.end() ? kUnk : it->second;
}

char32_t CharVocab::character(int64_t id) const {
  if (id == kUnk) return kUnkChar;
  if (id < 0 || id >= size())
    throw std::out_of_range("character vocabulary: id " + std::to_string(id) + " outside [0, " +
                            std::to_string(size()) + ")");
  return chars_[static_cast<size_t>(id - 1)];
}

std::vector<int64_t> CharVocab::encode(std::u32string_view text, int64_t* unknown) const {
  std::vector<int64_t> ids;
  ids.reserve(text.size());
  int64_t missing = 0;
  for (char32_t c : text) {
    const int64_t i = id(c);
    missing += i == kUnk;
    ids.push_back(i);
  }
  if (unknown != nullptr) *unknown = missing;
  return ids;
}

std::vector<int64_t> CharVocab::encode(std::u32string_view text) const {
  return encode(text, nullptr);
}

std::u32string CharVocab::decode(const std::vector<int64_t>& ids) const {
  std::u32string out;
  out.reserve(ids.size());
  for (int64_t i : ids) out.push_back(character(i));
  return out;
}

}  // namespace examples
