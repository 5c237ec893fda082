#include "error_rate.h"

#include <algorithm>
#include <numeric>

namespace speech {

namespace {

template <typename Sequence>
int64_t levenshtein(const Sequence& ref, const Sequence& hyp) {
  // One row of the table at a time: row[j] = distance(ref[0, i), hyp[0, j)).
  std::vector<int64_t> row(hyp.size() + 1);
  std::iota(row.begin(), row.end(), int64_t{0});
  for (size_t i = 1; i <= ref.size(); ++i) {
    int64_t diagonal = row[0];
    row[0] = static_cast<int64_t>(i);
    for (size_t j = 1; j <= hyp.size(); ++j) {
      const int64_t above = row[j];
      const int64_t substitute = diagonal + (ref[i - 1] == hyp[j - 1] ? 0 : 1);
      row[j] = std::min({substitute, above + 1, row[j - 1] + 1});
      diagonal = above;
    }
  }
  return row.back();
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string joined(const std::vector<std::string>& ws) {
  std::string s;
  for (const std::string& w : ws) {
    if (!s.empty()) s += ' ';
    s += w;
  }
  return s;
}

double rate(int64_t edits, int64_t length) {
  return static_cast<double>(edits) / static_cast<double>(std::max<int64_t>(1, length));
}

}  // namespace

int64_t edit_distance(const std::vector<std::string>& ref, const std::vector<std::string>& hyp) {
  return levenshtein(ref, hyp);
}

int64_t edit_distance(const std::string& ref, const std::string& hyp) {
  return levenshtein(ref, hyp);
}

std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    const size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

double ErrorRates::wer() const { return rate(word_edits, words); }
double ErrorRates::cer() const { return rate(char_edits, chars); }

void ErrorRates::add(const std::string& ref, const std::string& hyp) {
  const std::vector<std::string> ref_words = speech::words(ref), hyp_words = speech::words(hyp);
  word_edits += edit_distance(ref_words, hyp_words);
  words += static_cast<int64_t>(ref_words.size());
  const std::string ref_chars = joined(ref_words);
  char_edits += edit_distance(ref_chars, joined(hyp_words));
  chars += static_cast<int64_t>(ref_chars.size());
}

std::vector<ScoredUtterance> worst(std::vector<ScoredUtterance> utterances, size_t k) {
  std::sort(utterances.begin(), utterances.end(),
            [](const ScoredUtterance& a, const ScoredUtterance& b) {
              if (a.word_edits != b.word_edits) return a.word_edits > b.word_edits;
              return a.id < b.id;
            });
  if (utterances.size() > k) utterances.resize(k);
  return utterances;
}

std::string format_worst_table(const std::vector<ScoredUtterance>& utterances) {
  std::vector<std::vector<std::string>> rows = {{"id", "edits", "reference", "hypothesis"}};
  for (const ScoredUtterance& u : utterances)
    rows.push_back({u.id, std::to_string(u.word_edits), u.ref, u.hyp});
  std::vector<size_t> width(4, 0);
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      if (c > 0) line += "  ";
      // The edits column is right-aligned, the text columns left-aligned.
      if (c == 1) line += std::string(width[c] - row[c].size(), ' ');
      line += row[c];
      if (c != 1) line += std::string(width[c] - row[c].size(), ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
  }
  return out;
}

}  // namespace speech
