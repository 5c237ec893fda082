#include "ctc_decode.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>

namespace speech {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

void check(const float* log_probs, int64_t T, int64_t V, int blank) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("ctc: " + what); };
  if (T < 0) fail(std::to_string(T) + " frames");
  if (V <= 0) fail(std::to_string(V) + " labels: need at least the blank");
  if (blank < 0 || blank >= V)
    fail("blank " + std::to_string(blank) + " is not a label in [0, " + std::to_string(V) + ")");
  if (T > 0 && log_probs == nullptr)
    fail("no log-probabilities for " + std::to_string(T) + " frames");
}

double log_add(double a, double b) {
  if (a == kNegInf) return b;
  if (b == kNegInf) return a;
  const double hi = std::max(a, b), lo = std::min(a, b);
  return hi + std::log1p(std::exp(lo - hi));
}

// The probability (in log space) of a prefix's paths so far, split by whether
// they end in a blank: a label after a blank-ending path starts a new symbol,
// after a label-ending path with the same label it only repeats it.
struct Score {
  double blank = kNegInf, label = kNegInf;
  double total() const { return log_add(blank, label); }
};

using Beam = std::map<std::vector<int>, Score>;

// The `beam` best prefixes, most probable first (ties by the prefixes' order,
// so the result does not depend on the map's).
Beam prune(const Beam& all, int beam) {
  std::vector<std::pair<double, const Beam::value_type*>> ranked;
  ranked.reserve(all.size());
  for (const auto& entry : all) ranked.emplace_back(entry.second.total(), &entry);
  const auto keep = std::min(ranked.size(), static_cast<size_t>(beam));
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(keep),
                    ranked.end(), [](const auto& a, const auto& b) {
                      if (a.first != b.first) return a.first > b.first;
                      return a.second->first < b.second->first;
                    });
  Beam kept;
  for (size_t i = 0; i < keep; ++i) kept.insert(*ranked[i].second);
  return kept;
}

}  // namespace

std::vector<int> ctc_greedy(const float* log_probs, int64_t T, int64_t V, int blank) {
  check(log_probs, T, V, blank);
  std::vector<int> out;
  int previous = blank;
  for (int64_t t = 0; t < T; ++t) {
    const float* row = log_probs + t * V;
    const auto best = static_cast<int>(std::max_element(row, row + V) - row);
    if (best != blank && best != previous) out.push_back(best);
    previous = best;
  }
  return out;
}

std::vector<int> ctc_prefix_beam_search(const float* log_probs, int64_t T, int64_t V, int blank,
                                        int beam) {
  check(log_probs, T, V, blank);
  if (beam < 1) throw std::invalid_argument("ctc: beam " + std::to_string(beam) + " is below 1");
  Beam current;
  current[{}].blank = 0.0;  // the empty prefix, before any frame, with probability 1
  for (int64_t t = 0; t < T; ++t) {
    const float* row = log_probs + t * V;
    Beam next;
    for (const auto& [prefix, score] : current) {
      const double total = score.total();
      Score& same = next[prefix];
      same.blank = log_add(same.blank, total + row[blank]);
      for (int c = 0; c < static_cast<int>(V); ++c) {
        if (c == blank) continue;
        const double p = row[c];
        std::vector<int> extended = prefix;
        extended.push_back(c);
        Score& longer = next[extended];
        if (!prefix.empty() && prefix.back() == c) {
          // Only a blank between two equal labels makes a second symbol.
          longer.label = log_add(longer.label, score.blank + p);
          Score& repeated = next[prefix];
          repeated.label = log_add(repeated.label, score.label + p);
        } else {
          longer.label = log_add(longer.label, total + p);
        }
      }
    }
    current = prune(next, beam);
  }
  return prune(current, 1).begin()->first;
}

}  // namespace speech
