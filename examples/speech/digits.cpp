#include "digits.h"

#include <sstream>
#include <stdexcept>

#include "common/data_loader.h"

namespace speech {

const std::vector<std::string>& digit_words() {
  static const std::vector<std::string> words = {"zero", "one",   "two",   "three", "four", "five",
                                                 "six",  "seven", "eight", "nine",  "oh"};
  return words;
}

std::string random_digit_text(uint64_t key) {
  // Stream j of the key: j = 0 the length, 2k + 1 digit k, 2k + 2 its spelling.
  auto bits = [key](uint64_t j) { return examples::splitmix64(examples::mix_key({key, j})); };
  const uint64_t span = kMaxDigits - kMinDigits + 1;
  const uint64_t length = kMinDigits + examples::below(bits(0), span);
  std::string text;
  for (uint64_t k = 0; k < length; ++k) {
    uint64_t digit = examples::below(bits(2 * k + 1), 10);
    if (digit == 0 && (bits(2 * k + 2) & 1)) digit = 10;  // "oh"
    if (!text.empty()) text += ' ';
    text += digit_words()[digit];
  }
  return text;
}

std::string digit_string(const std::string& text) {
  std::istringstream words(text);
  std::string word, digits;
  while (words >> word) {
    size_t d = 0;
    while (d < digit_words().size() && digit_words()[d] != word) ++d;
    if (d == digit_words().size())
      throw std::invalid_argument("\"" + word + "\" is not a digit word");
    digits += static_cast<char>('0' + d % 10);
  }
  return digits;
}

}  // namespace speech
