// CTC decoding of one utterance's log-probabilities [T x V] (row-major, each
// row a log-softmax over the V labels, one of them the blank): greedy
// (best path) and prefix beam search.
#pragma once
#include <cstdint>
#include <vector>

namespace speech {

// The best path: the argmax of each frame (the lowest label on ties), repeats
// collapsed, blanks dropped; so "a a" needs a blank between the two a's.
// Throws std::invalid_argument ("ctc: ...") for T < 0, V <= 0, a blank
// outside [0, V), or a null log_probs with T > 0.
std::vector<int> ctc_greedy(const float* log_probs, int64_t T, int64_t V, int blank);

// The labelling the prefix beam search finds most probable: each prefix keeps
// the log-probabilities of its paths that end in a blank and in a label, summed
// over paths, and after each frame the `beam` most probable prefixes survive.
// With a beam at least the number of possible prefixes it is the exact most
// probable labelling; with beam 1 it is greedy wherever one path dominates.
// Also throws std::invalid_argument for beam < 1.
std::vector<int> ctc_prefix_beam_search(const float* log_probs, int64_t T, int64_t V, int blank,
                                        int beam);

}  // namespace speech
