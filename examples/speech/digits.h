// The sentences of lg-speech: strings of 1 to 7 spoken digits ("three oh
// seven"), drawn from a 64-bit key so that a corpus is fixed by its seed.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace speech {

inline constexpr int kMinDigits = 1;
inline constexpr int kMaxDigits = 7;

// The words a transcript uses: digit_words()[d] says digit d (0-9), and
// digit_words()[10] is "oh", the other way of saying 0.
const std::vector<std::string>& digit_words();

// 1-7 digits (length and digits uniform), lowercase words joined by single
// spaces; each 0 is "zero" or "oh" with equal chance.
std::string random_digit_text(uint64_t key);

// The digits a transcript says ("three oh seven" -> "307"); throws
// std::invalid_argument naming a word that is not a digit word.
std::string digit_string(const std::string& text);

}  // namespace speech
