#include <lasergrad/ops/arithmetic.h>
#include <lasergrad/ops/elementwise_select.h>
#include <lasergrad/ops/factory.h>
#include <lasergrad/ops/loss.h>
#include <lasergrad/ops/reduction.h>
#include <lasergrad/ops/softmax.h>

#include <limits>
#include <vector>

#include "op_support.h"

namespace lg {
using detail::BackwardArgs;

namespace {

// Checks the shapes, dtypes and devices of scores [..., C] and int64 class
// targets [...] (not their values: see mean_divisor).
void check_class_targets(const char* op, const Tensor& scores, const Tensor& target) {
  detail::check_defined(scores, op, "input");
  detail::check_defined(target, op, "target");
  LG_CHECK(is_floating(scores.dtype()), op, ": needs floating-point scores, got ",
           scores.describe());
  LG_CHECK(scores.dim() >= 1, op, ": scores need a class dim (the last one), got ",
           scores.describe());
  LG_CHECK(target.dtype() == kInt64, op, ": target must hold int64 class indices, got ",
           target.describe());
  Shape expected(scores.shape().begin(), scores.shape().end() - 1);
  LG_CHECK(target.shape() == expected, op, ": target ", target.describe(),
           " does not match scores ", scores.describe(), ": expected target shape ",
           shape_str(expected), " (classes are the last dim)");
  detail::check_same_device(scores, target, op);
}

// The CPU targets' values: each in [0, C) or ignore_index. Returns how many
// are not ignore_index.
int64_t check_host_target_values(const char* op, const Tensor& target, int64_t C,
                                 int64_t ignore_index) {
  std::vector<int64_t> t = target.to_vector<int64_t>();
  int64_t count = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == ignore_index) continue;
    LG_CHECK(t[i] >= 0 && t[i] < C, op, ": target ", t[i], " (at flat index ", i,
             ") is out of range for ", C, " classes (ignore_index is ", ignore_index, ")");
    ++count;
  }
  return count;
}

// Validates the targets' values where that needs no synchronisation, on the
// CPU; on a device the kernels check them and report a bad one at the next
// synchronisation. Returns the Mean reduction's divisor, the number of
// targets not ignore_index as a 0-d tensor of `dtype` on the targets' device
// (summed there, not read back), or an undefined tensor for other reductions.
Tensor mean_divisor(const char* op, const Tensor& target, int64_t C, int64_t ignore_index,
                    Reduction reduction, DType dtype) {
  if (target.device().is_cpu()) {
    const int64_t count = check_host_target_values(op, target, C, ignore_index);
    if (reduction != Reduction::Mean) return Tensor();
    return detail::scalar_tensor(static_cast<double>(count), dtype, target.device());
  }
  if (reduction != Reduction::Mean) return Tensor();
  NoGradGuard no_grad;
  return detail::cast_raw(sum(ne(target, Scalar(ignore_index))), dtype);
}

// Per-target losses reduced as asked; Mean divides by the count of targets
// not ignored, `divisor` (0/0 = NaN when every target is ignored, as PyTorch).
Tensor reduce_losses(const Tensor& losses, Reduction reduction, const Tensor& divisor) {
  switch (reduction) {
    case Reduction::None:
      return losses;
    case Reduction::Sum:
      return sum(losses);
    case Reduction::Mean:
      break;
  }
  return sum(losses) / divisor;
}

// The upstream gradient of a reduced loss spread over its N rows: [N],
// contiguous, in `dtype` (what the fused kernels multiply each row by).
Tensor row_weights(const Tensor& grad, Reduction reduction, const Tensor& divisor, int64_t N,
                   DType dtype) {
  NoGradGuard no_grad;
  Tensor g = detail::cast_raw(grad.detach(), dtype);
  if (reduction == Reduction::None) return g.reshape({N}).contiguous();
  if (reduction == Reduction::Mean) g = g / divisor;
  return g.reshape({1}).expand({N}).contiguous();
}

Tensor pick_class_adjoint(const Tensor& src, const Tensor& target, int64_t C, int64_t ignore);

// x [N,C] -> [N]: x[n, target[n]] (0 where ignored); its backward is the
// adjoint below and the adjoint's is this, so nll_loss has every derivative.
Tensor pick_class(const Tensor& x, const Tensor& target, int64_t ignore) {
  const int64_t N = x.shape()[0], C = x.shape()[1];
  auto pick = kernel(&KernelTable::pick_class, x.device(), x.dtype(), "nll_loss");
  Tensor out = Tensor::empty({N}, x.dtype(), x.device());
  pick(out, x.detach().contiguous(), target, ignore);
  return detail::record(
      "nll_loss", out, {x}, {{"target", target}}, [C, ignore](const BackwardArgs& c) {
        return std::vector<Tensor>{pick_class_adjoint(c.grad, c.saved("target"), C, ignore)};
      });
}

Tensor pick_class_adjoint(const Tensor& src, const Tensor& target, int64_t C, int64_t ignore) {
  const int64_t N = src.shape()[0];
  auto scatter =
      kernel(&KernelTable::pick_class_backward, src.device(), src.dtype(), "nll_loss_backward");
  Tensor out = Tensor::empty({N, C}, src.dtype(), src.device());
  scatter(out, src.detach().contiguous(), target, ignore);
  return detail::record("nll_loss_backward", out, {src}, {{"target", target}},
                        [ignore](const BackwardArgs& c) {
                          return std::vector<Tensor>{pick_class(c.grad, c.saved("target"), ignore)};
                        });
}

// The cross-entropy gradient in differentiable ops (what create_graph runs):
// (softmax(x) - smoothed one-hot) times each row's upstream gradient.
Tensor cross_entropy_grad_composite(const Tensor& grad, const Tensor& x, const Tensor& target,
                                    const CrossEntropyOptions& o, const Tensor& divisor) {
  const int64_t C = x.shape().back(), N = target.numel();
  Tensor x2 = x.reshape({N, C});
  Tensor target_dist, live;
  {
    NoGradGuard constants;
    Tensor t = target.reshape({N, 1});
    Tensor classes = arange(0, C, 1, {.dtype = kInt64, .device = x.device()}).reshape({1, C});
    target_dist = eq(t, classes).to(x.dtype()) * (1.0 - o.label_smoothing) +
                  o.label_smoothing / static_cast<double>(C);
    live = ne(t, detail::scalar_tensor(o.ignore_index, kInt64, x.device()));
  }
  Tensor w = o.reduction == Reduction::None   ? grad.reshape({N, 1})
             : o.reduction == Reduction::Mean ? grad / divisor
                                              : grad;
  // Ignored rows get 0 by selection, not by a product: with every target
  // ignored Mean's w is inf there, and 0 * inf would be NaN (the fused kernel gives 0).
  Tensor d = (softmax(x2, -1) - target_dist) * w;
  return where(live, d, Scalar(0.0)).reshape(x.shape());
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, CrossEntropyOptions o) {
  const char* op = "cross_entropy";
  check_class_targets(op, logits, target);
  const int64_t C = logits.shape().back(), N = target.numel();
  const Tensor divisor = mean_divisor(op, target, C, o.ignore_index, o.reduction, logits.dtype());
  LG_CHECK(o.label_smoothing >= 0 && o.label_smoothing <= 1, op,
           ": label_smoothing must lie in [0, 1], got ", o.label_smoothing);
  auto forward = kernel(&KernelTable::cross_entropy, logits.device(), logits.dtype(), op);
  Tensor t1 = target.contiguous().reshape({N});
  Tensor rows = Tensor::empty({N}, logits.dtype(), logits.device());
  Tensor lse = Tensor::empty({N}, logits.dtype(), logits.device());
  if (N > 0)
    forward(rows, lse, logits.detach().contiguous().reshape({N, C}), t1, o.ignore_index,
            o.label_smoothing);
  Tensor out = reduce_losses(rows.reshape(target.shape()), o.reduction, divisor);
  return detail::record(
      op, out, {logits},
      {{"self", logits}, {"target", t1}, {"logsumexp", lse}, {"divisor", divisor}},
      [o, N, C](const BackwardArgs& c) {
        const Tensor& x = c.saved("self");
        Tensor w = row_weights(c.grad, o.reduction, c.saved("divisor"), N, x.dtype());
        Tensor dx = Tensor::empty({N, C}, x.dtype(), x.device());
        if (N > 0)
          kernel(&KernelTable::cross_entropy_backward, x.device(), x.dtype(), "cross_entropy")(
              dx, w, x.detach().contiguous().reshape({N, C}), c.saved("target"),
              c.saved("logsumexp"), o.ignore_index, o.label_smoothing);
        return std::vector<Tensor>{dx.reshape(x.shape())};
      },
      {.fused_backward = true, .composite = [o](const BackwardArgs& c) {
         return std::vector<Tensor>{cross_entropy_grad_composite(
             c.grad, c.saved("self"), c.saved("target"), o, c.saved("divisor"))};
       }});
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, NllLossOptions o) {
  const char* op = "nll_loss";
  check_class_targets(op, log_probs, target);
  const int64_t C = log_probs.shape().back(), N = target.numel();
  const Tensor divisor =
      mean_divisor(op, target, C, o.ignore_index, o.reduction, log_probs.dtype());
  Tensor picked =
      pick_class(log_probs.reshape({N, C}), target.contiguous().reshape({N}), o.ignore_index);
  return reduce_losses(-picked.reshape(target.shape()), o.reduction, divisor);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  detail::check_defined(input, "mse_loss", "input");
  detail::check_defined(target, "mse_loss", "target");
  LG_CHECK(is_floating(input.dtype()) && is_floating(target.dtype()),
           "mse_loss: needs floating-point tensors, got ", input.describe(), " and ",
           target.describe());
  detail::broadcast_shapes(input.shape(), target.shape(), "mse_loss");
  Tensor d = input - target;
  Tensor sq = d * d;
  switch (reduction) {
    case Reduction::None:
      return sq;
    case Reduction::Sum:
      return sum(sq);
    case Reduction::Mean:
      break;
  }
  return mean(sq);
}

namespace {

// The shapes, dtypes and devices of ctc_loss's arguments, and the blank.
void check_ctc_arguments(const Tensor& log_probs, const Tensor& targets,
                         const Tensor& input_lengths, const Tensor& target_lengths, int64_t blank) {
  const char* op = "ctc_loss";
  for (const Tensor* t : {&log_probs, &targets, &input_lengths, &target_lengths})
    detail::check_defined(*t, op);
  LG_CHECK(is_floating(log_probs.dtype()) && log_probs.dim() == 3, op,
           ": log_probs must be a floating [T,N,C] tensor, got ", log_probs.describe());
  const int64_t N = log_probs.shape()[1], C = log_probs.shape()[2];
  LG_CHECK(targets.dtype() == kInt64 && targets.dim() == 2 && targets.shape()[0] == N, op,
           ": targets must be int64 [N,S] (padded) with N = ", N, ", got ", targets.describe(),
           " for log_probs ", log_probs.describe());
  for (const Tensor* t : {&input_lengths, &target_lengths}) {
    LG_CHECK(t->dtype() == kInt64 && t->shape() == Shape{N}, op, ": lengths must be int64 [", N,
             "], got ", t->describe());
    detail::check_same_device(log_probs, *t, op);
  }
  detail::check_same_device(log_probs, targets, op);
  LG_CHECK(blank >= 0 && blank < C, op, ": blank ", blank, " is out of range for ", C, " classes");
}

// The CPU lengths and labels of each sample (on a device the kernel checks
// them and reports a bad one at the next synchronisation).
void check_host_ctc_values(const Tensor& log_probs, const Tensor& targets,
                           const Tensor& input_lengths, const Tensor& target_lengths,
                           int64_t blank) {
  const char* op = "ctc_loss";
  const int64_t T = log_probs.shape()[0], N = log_probs.shape()[1], C = log_probs.shape()[2];
  const int64_t S = targets.shape()[1];
  const std::vector<int64_t> in_len = input_lengths.to_vector<int64_t>();
  const std::vector<int64_t> tg_len = target_lengths.to_vector<int64_t>();
  const std::vector<int64_t> labels = targets.to_vector<int64_t>();
  for (int64_t n = 0; n < N; ++n) {
    LG_CHECK(in_len[n] >= 0 && in_len[n] <= T, op, ": input length ", in_len[n], " of sample ", n,
             " is out of range for ", T, " frames");
    LG_CHECK(tg_len[n] >= 0 && tg_len[n] <= S, op, ": target length ", tg_len[n], " of sample ", n,
             " is out of range for targets ", targets.describe());
    for (int64_t s = 0; s < tg_len[n]; ++s) {
      int64_t l = labels[n * S + s];
      LG_CHECK(l >= 0 && l < C && l != blank, op, ": target ", l, " of sample ", n,
               " is out of range for ", C, " classes or is the blank (", blank, ")");
    }
  }
}

// zero_infinity: losses with +-inf (impossible alignments, whose gradient the
// kernel already left at 0) set to 0, on the losses' device.
Tensor zero_infinite(const Tensor& losses) {
  NoGradGuard no_grad;
  return masked_fill(losses, eq(abs(losses), std::numeric_limits<double>::infinity()), 0.0);
}

// Mean's per-sample weights 1 / (max(target length, 1) * N) in `dtype`,
// computed in float64 on the lengths' device (no host read).
Tensor ctc_mean_weights(const Tensor& target_lengths, DType dtype) {
  NoGradGuard no_grad;
  const double N = static_cast<double>(target_lengths.numel());
  Tensor lengths = detail::cast_raw(clamp(target_lengths, Scalar(int64_t{1})), kFloat64);
  return detail::cast_raw(1.0 / (lengths * N), dtype);
}

}  // namespace

Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                const Tensor& target_lengths, CtcLossOptions o) {
  const char* op = "ctc_loss";
  check_ctc_arguments(log_probs, targets, input_lengths, target_lengths, o.blank);
  if (log_probs.device().is_cpu())
    check_host_ctc_values(log_probs, targets, input_lengths, target_lengths, o.blank);
  const int64_t N = log_probs.shape()[1];
  auto run = kernel(&KernelTable::ctc_loss, log_probs.device(), log_probs.dtype(), op);
  const bool want_grad = GradMode::is_enabled() && log_probs.requires_grad();
  Tensor losses = Tensor::empty({N}, log_probs.dtype(), log_probs.device());
  Tensor grad = want_grad ? Tensor::empty(log_probs.shape(), log_probs.dtype(), log_probs.device())
                          : Tensor();
  run(losses, grad, log_probs.detach().contiguous(), targets.contiguous(),
      input_lengths.contiguous(), target_lengths.contiguous(), o.blank);
  Tensor per_sample = o.zero_infinity ? zero_infinite(losses) : losses;
  Tensor weights = o.reduction == Reduction::Mean
                       ? ctc_mean_weights(target_lengths, log_probs.dtype())
                       : Tensor();
  Tensor out = o.reduction == Reduction::None  ? per_sample
               : o.reduction == Reduction::Sum ? sum(per_sample)
                                               : sum(per_sample * weights);
  return detail::record(op, out, {log_probs},
                        {{"grad_log_probs", grad}, {"sample_weights", weights}},
                        [reduction = o.reduction, N](const BackwardArgs& c) {
                          NoGradGuard kernel_result;
                          Tensor g = c.grad.detach();
                          Tensor scale = reduction == Reduction::None ? g.reshape({1, N, 1})
                                         : reduction == Reduction::Sum
                                             ? g
                                             : (g * c.saved("sample_weights")).reshape({1, N, 1});
                          return std::vector<Tensor>{c.saved("grad_log_probs") * scale};
                        },
                        {.fused_backward = true});
}

}  // namespace lg
