// lg-speech's output alphabet: CTC's blank (id 0), the space, the apostrophe
// and the 26 lowercase letters, so a model trained on digit words can spell
// what it hears in any English recording.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace speech {

inline constexpr int kBlank = 0;

// 29: blank, space, apostrophe, a..z.
int64_t vocabulary_size();
// The ids of a transcript; a character outside the alphabet (after
// lowercasing) is a std::invalid_argument naming it and the text.
std::vector<int64_t> encode_transcript(const std::string& text);
// The text of ids (blanks skipped); an id outside the alphabet throws.
std::string decode_ids(const std::vector<int>& ids);

}  // namespace speech
