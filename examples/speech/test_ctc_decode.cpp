// CTC decoding: greedy on hand-made posteriors, a case where the prefix beam
// search beats greedy, exactness against brute force over all paths, and
// degenerate inputs.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <random>

#include "ctc_decode.h"
#include "tests/test_util.h"

namespace {

// Log-probabilities [T x V] from probabilities.
std::vector<float> logs(const std::vector<std::vector<double>>& probs) {
  std::vector<float> out;
  for (const auto& row : probs)
    for (double p : row) out.push_back(static_cast<float>(std::log(p)));
  return out;
}

// Frames that each put 0.9 on one label of `path`, the rest spread evenly.
std::vector<float> clear_path(const std::vector<int>& path, int V) {
  std::vector<std::vector<double>> probs;
  for (int label : path) {
    std::vector<double> row(static_cast<size_t>(V), 0.1 / (V - 1));
    row[static_cast<size_t>(label)] = 0.9;
    probs.push_back(row);
  }
  return logs(probs);
}

std::vector<float> random_log_softmax(int64_t T, int64_t V, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal(0.0, 1.5);
  std::vector<std::vector<double>> probs;
  for (int64_t t = 0; t < T; ++t) {
    std::vector<double> row(static_cast<size_t>(V));
    double sum = 0;
    for (double& p : row) sum += p = std::exp(normal(gen));
    for (double& p : row) p /= sum;
    probs.push_back(row);
  }
  return logs(probs);
}

// The most probable labelling by summing the probability of every path.
std::vector<int> brute_force_best(const std::vector<float>& lp, int64_t T, int64_t V, int blank) {
  std::map<std::vector<int>, double> total;
  std::vector<int> path(static_cast<size_t>(T), 0);
  while (true) {
    double p = 1;
    std::vector<int> labels;
    for (int64_t t = 0; t < T; ++t) {
      const int c = path[static_cast<size_t>(t)];
      p *= std::exp(lp[static_cast<size_t>(t * V + c)]);
      if (c != blank && (t == 0 || path[static_cast<size_t>(t - 1)] != c)) labels.push_back(c);
    }
    total[labels] += p;
    int64_t t = 0;  // the next path, as counting in base V
    while (t < T && ++path[static_cast<size_t>(t)] == V) path[static_cast<size_t>(t++)] = 0;
    if (t == T) break;
  }
  auto best = total.begin();
  for (auto it = total.begin(); it != total.end(); ++it)
    if (it->second > best->second) best = it;
  return best->first;
}

}  // namespace

TEST_CASE("greedy: argmax per frame, repeats collapsed, blanks dropped") {
  // Path a a _ a b b _ _ b (a = 1, b = 2, blank 0): "a" twice (a blank
  // between), then "b" twice.
  const std::vector<float> lp = clear_path({1, 1, 0, 1, 2, 2, 0, 0, 2}, 3);
  CHECK(speech::ctc_greedy(lp.data(), 9, 3, 0) == std::vector<int>{1, 1, 2, 2});
  const std::vector<float> run = clear_path({1, 1, 1}, 3);  // no blank: one "a"
  CHECK(speech::ctc_greedy(run.data(), 3, 3, 0) == std::vector<int>{1});
  // Another blank id: label 0 is a symbol here.
  const std::vector<float> other = clear_path({0, 2, 0, 0, 1}, 3);
  CHECK(speech::ctc_greedy(other.data(), 5, 3, 2) == std::vector<int>{0, 0, 1});
  CHECK(speech::ctc_greedy(nullptr, 0, 3, 0).empty());
}

TEST_CASE("beam 1 equals greedy where one path dominates") {
  const std::vector<int> path = {0, 3, 3, 0, 3, 1, 0, 2, 2, 2, 0, 0, 1, 1, 0};
  const std::vector<float> lp = clear_path(path, 4);
  const auto T = static_cast<int64_t>(path.size());
  const std::vector<int> greedy = speech::ctc_greedy(lp.data(), T, 4, 0);
  CHECK(greedy == std::vector<int>{3, 3, 1, 2, 1});
  CHECK(speech::ctc_prefix_beam_search(lp.data(), T, 4, 0, 1) == greedy);
  CHECK(speech::ctc_prefix_beam_search(lp.data(), T, 4, 0, 8) == greedy);
}

TEST_CASE("the prefix beam search finds a labelling greedy misses") {
  // Two frames, each P(blank) = 0.6, P(a) = 0.4. Greedy takes the best path
  // "_ _", labelling "" with probability 0.6 * 0.6 = 0.36. But "a" has three
  // paths: "a a" 0.16 + "a _" 0.24 + "_ a" 0.24 = 0.64, so "a" is the more
  // probable labelling. Beam 2 keeps "a" after the first frame and finds it;
  // beam 1 keeps only "" (0.6 > 0.4) and ends like greedy.
  const std::vector<float> lp = logs({{0.6, 0.4}, {0.6, 0.4}});
  CHECK(speech::ctc_greedy(lp.data(), 2, 2, 0).empty());
  CHECK(speech::ctc_prefix_beam_search(lp.data(), 2, 2, 0, 2) == std::vector<int>{1});
  CHECK(speech::ctc_prefix_beam_search(lp.data(), 2, 2, 0, 1).empty());
}

TEST_CASE("a beam wide enough for every prefix finds the most probable labelling") {
  // T = 4, V = 3: at most 1 + 2 + 4 + 8 + 16 = 31 prefixes, so beam 32 prunes nothing.
  for (unsigned seed = 1; seed <= 20; ++seed) {
    for (int blank : {0, 2}) {
      const std::vector<float> lp = random_log_softmax(4, 3, seed);
      INFO("seed " << seed << ", blank " << blank);
      CHECK(speech::ctc_prefix_beam_search(lp.data(), 4, 3, blank, 32) ==
            brute_force_best(lp, 4, 3, blank));
    }
  }
}

TEST_CASE("uniform posteriors: a valid, repeatable labelling") {
  const int64_t T = 30, V = 5;
  const std::vector<float> lp(static_cast<size_t>(T * V), static_cast<float>(-std::log(5.0)));
  const std::vector<int> a = speech::ctc_prefix_beam_search(lp.data(), T, V, 0, 6);
  CHECK(a == speech::ctc_prefix_beam_search(lp.data(), T, V, 0, 6));
  CHECK(a.size() <= static_cast<size_t>(T));
  for (int c : a) CHECK((c > 0 && c < V));
  CHECK(speech::ctc_prefix_beam_search(nullptr, 0, V, 0, 4).empty());
  const std::vector<float> only_blank(7, 0.0f);  // V = 1: the blank alone
  CHECK(speech::ctc_prefix_beam_search(only_blank.data(), 7, 1, 0, 3).empty());
  CHECK(speech::ctc_greedy(only_blank.data(), 7, 1, 0).empty());
}

TEST_CASE("bad CTC decoder arguments are errors") {
  const std::vector<float> lp(6, -1.0f);
  CHECK(contains(error_of([&] { speech::ctc_greedy(lp.data(), 2, 3, 3); }),
                 "ctc: blank 3 is not a label in [0, 3)"));
  CHECK(contains(error_of([&] { speech::ctc_greedy(lp.data(), 2, 0, 0); }), "ctc: 0 labels"));
  CHECK(contains(error_of([&] { speech::ctc_greedy(lp.data(), -1, 3, 0); }), "ctc: -1 frames"));
  CHECK(contains(error_of([&] { speech::ctc_greedy(nullptr, 2, 3, 0); }),
                 "ctc: no log-probabilities"));
  CHECK(contains(error_of([&] { speech::ctc_prefix_beam_search(lp.data(), 2, 3, 0, 0); }),
                 "ctc: beam 0 is below 1"));
  CHECK(contains(error_of([&] { speech::ctc_prefix_beam_search(lp.data(), 2, 3, -1, 2); }),
                 "ctc: blank -1"));
}
