// BERT's masking for lg-gpt --objective mlm (Devlin et al. 2019): each
// position of a window is chosen with probability p (15%); a chosen position
// becomes [MASK] with probability 0.8, a random character with 0.1, and stays
// as it was with 0.1. The loss and the MLM error count the chosen positions
// only. Every draw is a function of (stream, row, position), so a resumed run
// and several ranks mask exactly as one uninterrupted process does.
#pragma once
#include <lasergrad/lasergrad.h>

#include <cstdint>
#include <vector>

namespace gpt {

// The target of a position the loss skips (lg::CrossEntropyOptions' default).
inline constexpr int64_t kNotMasked = -100;

struct MaskingOptions {
  double probability = 0.15;  // of choosing a position
  int64_t mask_id = 0;        // the [MASK] token: the id after the characters'
};

struct MaskedBatch {
  lg::Tensor inputs;   // int64 [B, T]: the windows with the chosen positions replaced
  lg::Tensor targets;  // int64 [B, T]: the original id where chosen, kNotMasked elsewhere
  int64_t chosen = 0;  // positions chosen
};

// Masks `windows`, int64 [B, T] of ids in [0, mask_id) (0 is <unk>): rows
// first_row .. first_row + B - 1 of the batch that `stream` seeds. Random
// characters are drawn from ids 1 .. mask_id - 1 (never <unk> or [MASK]).
// A batch in which no position was chosen gets one (the first draw's
// position), so that its loss is defined.
MaskedBatch mask_tokens(const lg::Tensor& windows, const MaskingOptions& options, uint64_t stream,
                        int64_t first_row = 0);

// The seed of training batch `index` of a run seeded with `seed`, and of
// validation batch `index` (the same in every run, so that runs with other
// seeds are scored on the same positions).
uint64_t train_mask_stream(uint64_t seed, int64_t index);
uint64_t validation_mask_stream(int64_t index);

// What the model got right on the chosen positions: logits [B, T, V] against
// targets [B, T] (kNotMasked elsewhere), the prediction being the arg max.
struct MaskedCounts {
  int64_t chosen = 0, wrong = 0;
};
MaskedCounts count_mlm_errors(const lg::Tensor& logits, const lg::Tensor& targets);

// The error of always predicting `id` (the unigram baseline: the commonest
// training character) on targets [B, T].
MaskedCounts count_constant_errors(const lg::Tensor& targets, int64_t id);

// The commonest id among tokens (the smallest on a tie).
int64_t commonest_token(const std::vector<int32_t>& tokens);

}  // namespace gpt
