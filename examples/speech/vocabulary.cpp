#include "vocabulary.h"

#include <stdexcept>

namespace speech {
namespace {

constexpr char kSymbols[] = "_ 'abcdefghijklmnopqrstuvwxyz";  // '_' stands for the blank

}  // namespace

int64_t vocabulary_size() { return static_cast<int64_t>(sizeof kSymbols - 1); }

std::vector<int64_t> encode_transcript(const std::string& text) {
  std::vector<int64_t> ids;
  ids.reserve(text.size());
  for (char c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    int64_t id = -1;
    if (c == ' ') id = 1;
    if (c == '\'') id = 2;
    if (c >= 'a' && c <= 'z') id = 3 + (c - 'a');
    if (id < 0)
      throw std::invalid_argument("transcript \"" + text + "\": character '" + std::string(1, c) +
                                  "' is not in lg-speech's alphabet (letters, space, apostrophe)");
    ids.push_back(id);
  }
  return ids;
}

std::string decode_ids(const std::vector<int>& ids) {
  std::string text;
  for (int id : ids) {
    if (id < 0 || id >= vocabulary_size())
      throw std::out_of_range("decode_ids: id " + std::to_string(id) + " is not in the alphabet");
    if (id != kBlank) text.push_back(kSymbols[id]);
  }
  return text;
}

}  // namespace speech
