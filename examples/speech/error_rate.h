// Word and character error rates of transcripts, and the table of the worst
// recognised utterances that the evaluation prints.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace speech {

// The Levenshtein distance: the fewest substitutions, insertions and
// deletions that turn ref into hyp (words, or the bytes of a string).
int64_t edit_distance(const std::vector<std::string>& ref, const std::vector<std::string>& hyp);
int64_t edit_distance(const std::string& ref, const std::string& hyp);

// The words of text: the runs between ASCII whitespace.
std::vector<std::string> words(const std::string& text);

// Sums over utterances. Characters are those of the words joined by single
// spaces (so CER counts spaces, but not leading, trailing or repeated
// whitespace), one per byte: the transcripts are ASCII.
struct ErrorRates {
  int64_t word_edits = 0, words = 0, char_edits = 0, chars = 0;
  // Edits over max(1, reference length): with an empty reference, an empty
  // hypothesis scores 0 and each hypothesis word (character) counts 1.
  double wer() const;
  double cer() const;
  void add(const std::string& ref, const std::string& hyp);
};

struct ScoredUtterance {
  std::string id, ref, hyp;
  int64_t word_edits = 0;
};

// The k utterances with the most word edits, most first, ties by id.
std::vector<ScoredUtterance> worst(std::vector<ScoredUtterance> utterances, size_t k);

// A plain-text table, one line per utterance under a header line
// "id  edits  reference  hypothesis", the columns aligned, no trailing
// spaces, each line ending in '\n'.
std::string format_worst_table(const std::vector<ScoredUtterance>& utterances);

}  // namespace speech
