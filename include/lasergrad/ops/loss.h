// Losses: cross_entropy and nll_loss on class indices, mse_loss, and ctc_loss.
// Unlike PyTorch, class scores keep their classes in the LAST dim (logits
// [..., C] with targets [...], e.g. a language model's [B,T,V] against [B,T]),
// where PyTorch wants them in dim 1 ([N,C,d1,...]); both agree on [N,C].
#pragma once
#include <cstdint>

#include "../core/tensor.h"

namespace lg {

enum class Reduction { None, Mean, Sum };

struct CrossEntropyOptions {
  int64_t ignore_index = -100;  // targets equal to it add nothing and do not count
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::Mean;  // Mean: over the targets not ignored
};

// -log softmax(logits)[target], mixed with label_smoothing times the mean over
// classes of -log softmax. logits [..., C] floating, target [...] int64.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, CrossEntropyOptions options = {});

struct NllLossOptions {
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::Mean;
};

// -log_probs[..., target]: log_probs [..., C] floating, target [...] int64.
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, NllLossOptions options = {});

// (input - target)^2, broadcasting the two.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);

struct CtcLossOptions {
  int64_t blank = 0;
  // Mean divides each sample's loss by its target length, then averages (as PyTorch).
  Reduction reduction = Reduction::Mean;
  bool zero_infinity = false;  // impossible alignments give loss 0 and gradient 0
};

// Connectionist temporal classification, as PyTorch: log_probs [T,N,C] (time
// first), targets [N,S] int64 padded, input_lengths and target_lengths [N]
// int64. Its backward is a fused kernel with no composite: no double backward.
Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                const Tensor& target_lengths, CtcLossOptions options = {});

}  // namespace lg
