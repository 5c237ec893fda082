// The GPT training step of lg-bench train-gpt-ops (bench_train_gpt_ops.cpp),
// for the benchmarks that time it under other conditions (lg-bench contention).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lg::bench {

struct GptStepConfig {
  int64_t batch = 8, seq = 256, d_model = 256, heads = 4, layers = 4, vocab = 80;
  std::string attention = "laser";  // or "softmax"
  std::string optimizer = "adamw";  // or "none"
  std::string linear = "fused";     // or "composite" (matmul + add)
};

// Milliseconds per timed step (total and by phase), page faults, and the loss.
struct GptStepTimes {
  std::vector<double> total, fwd, bwd, upd, cpu, faults;
  double first_loss = 0, last_loss = 0;
};

// The model, a fixed batch and the optimizer, made once (seeded); run() times
// `runs` steps after `warmup` untimed ones and may be called again.
class GptSteps {
 public:
  explicit GptSteps(const GptStepConfig& config);
  GptStepTimes run(int warmup, int runs);
  int64_t params() const { return params_; }

 private:
  struct State;
  GptStepConfig c_;
  std::shared_ptr<State> state_;
  int64_t params_ = 0;
};

}  // namespace lg::bench
