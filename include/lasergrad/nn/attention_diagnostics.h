// Gradient diagnostics for attention layers: how much gradient reaches an
// attention layer's parameters and input, and how large the Jacobian of the
// attention output with respect to the scores is (the term LASER's paper
// says softmax attention makes small). docs/laser.md derives both Jacobians.
//
// Use, once per step to measure:
//   lg::nn::AttentionDiagnostics diag(model);  // every MultiHeadAttention in model
//   diag.arm();                                // before the step's forward
//   loss = ...; loss.backward();
//   for (const auto& layer : diag.collect()) ...  // after backward, before the optimizer
// A layer records during its first forward with grad mode on after arm(),
// costing O(H T^2 d) on the batch's first sequence; unarmed, nothing.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "../ops/attention.h"
#include "module.h"
#include "transformer.h"

namespace lg::nn {

// What one attention layer measured in one forward and backward.
struct AttentionGradients {
  std::string name;  // the layer's path in the model ("blocks.0.self_attn")
  bool measured = false;  // false: the layer ran no forward with gradients while armed
  // Frobenius norms of the gradients of in_proj_weight's q, k and v rows
  // (W_Q, W_K, W_V; 0 when the weight has no gradient), and of the gradient
  // reaching the layer's input x [B, T, C] (summed over the q, k and v paths).
  double w_q = 0, w_k = 0, w_v = 0, input = 0;
  // Means over heads, query rows i and attended keys of the batch's first
  // sequence: |(diag(a) - a aᵀ)_jk| over attended j, k (the softmax Jacobian
  // ∂a/∂s of row i, whatever the attention), and |∂O_ic/∂s_ik| over attended
  // k and every value column c (the output's Jacobian with respect to the
  // scores: a_k (v_kc - O_ic) for softmax attention, w_kc - a_k with
  // w_·c = softmax(s + v_·c) for LASER).
  double softmax_jacobian = 0, score_jacobian = 0;
};

// The two Jacobian means of AttentionGradients for attention of q [B,H,Tq,d],
// k and v [B,H,Tk,d] with `options` (causal, mask, scale) on batch element
// `batch`, computed in float64 whatever the dtype. Rows with no attended key
// are left out; none at all gives 0.
struct AttentionJacobianMeans {
  double softmax_jacobian = 0, score_jacobian = 0;
};
AttentionJacobianMeans attention_jacobian_means(const Tensor& q, const Tensor& k, const Tensor& v,
                                                const AttentionOptions& options, bool laser,
                                                int64_t batch = 0);

struct AttentionProbe;

class AttentionDiagnostics {
 public:
  // Watches every MultiHeadAttention in model (named_modules order); throws
  // lg::Error when there is none. One AttentionDiagnostics per model at a time.
  explicit AttentionDiagnostics(const Module& model);
  ~AttentionDiagnostics();
  AttentionDiagnostics(const AttentionDiagnostics&) = delete;
  AttentionDiagnostics& operator=(const AttentionDiagnostics&) = delete;

  const std::vector<std::string>& names() const { return names_; }
  // Clears what was recorded and records during the next forward.
  void arm();
  // Each layer's measurements since arm(), in names() order; disarms and
  // clears them.
  std::vector<AttentionGradients> collect();

 private:
  std::vector<const MultiHeadAttention*> layers_;
  std::vector<std::string> names_;
  std::vector<std::shared_ptr<AttentionProbe>> probes_;
};

namespace probing {
// MultiHeadAttention::forward's hooks: the input, tapped for its gradient
// when armed with grad mode on; and the Jacobian means of its q, k, v.
Tensor probe_attention_input(const std::shared_ptr<AttentionProbe>& probe, const Tensor& x);
void probe_attention_scores(AttentionProbe& probe, const Tensor& q, const Tensor& k,
                            const Tensor& v, const AttentionOptions& options, bool laser);
}  // namespace probing

}  // namespace lg::nn
