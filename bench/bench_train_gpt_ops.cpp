// lg-bench train-gpt-ops: one GPT training step (issue #6's shapes) written
// with lasergrad ops directly (plain tensors as parameters, no nn::Module):
// token + learned positional embedding, pre-norm blocks (layer_norm, fused
// attention on [B,H,T,d], GELU MLP 4x), final layer_norm, lm head,
// cross_entropy, backward, and AdamW written inline with in-place ops.
// Reports the median step (wall and process CPU time: with --threads 1 on a
// shared machine the CPU time is the steadier figure) and its phases
// (forward, backward, optimizer), minor page faults per step, the
// allocator's peak and the process's peak RSS (VmHWM). --linear composite
// swaps lg::linear for matmul(x, wᵀ) + b. Compare with
// bench/pytorch/train_gpt.py at the same shapes and thread count:
//   lg-bench train-gpt-ops --threads 1 --warmup 2 --runs 7
//   python3 bench/pytorch/train_gpt.py --threads 1
#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "bench_gpt_step.h"
#include "bench_util.h"

namespace lg::bench {
namespace {

using Config = GptStepConfig;

struct Layer {
  Tensor ln1_w, ln1_b, qkv_w, qkv_b, proj_w, proj_b, ln2_w, ln2_b, fc_w, fc_b, out_w, out_b;
};

struct Model {
  Tensor tok, pos, lnf_w, lnf_b, head_w;
  std::vector<Layer> layers;
  std::vector<Tensor> params;
};

Tensor param(const Shape& shape, double std, double fill = 0) {
  Tensor t = std > 0 ? randn(shape) * std : full(shape, fill);
  return t.detach().requires_grad_();
}

Model make_model(const Config& c) {
  Model m;
  const int64_t d = c.d_model;
  m.tok = param({c.vocab, d}, 0.02);
  m.pos = param({c.seq, d}, 0.02);
  for (int64_t i = 0; i < c.layers; ++i) {
    m.layers.push_back({param({d}, 0, 1), param({d}, 0), param({3 * d, d}, 0.02), param({3 * d}, 0),
                        param({d, d}, 0.02), param({d}, 0), param({d}, 0, 1), param({d}, 0),
                        param({4 * d, d}, 0.02), param({4 * d}, 0), param({d, 4 * d}, 0.02),
                        param({d}, 0)});
  }
  m.lnf_w = param({d}, 0, 1);
  m.lnf_b = param({d}, 0);
  m.head_w = param({c.vocab, d}, 0.02);
  m.params = {m.tok, m.pos, m.lnf_w, m.lnf_b, m.head_w};
  for (const Layer& l : m.layers)
    m.params.insert(m.params.end(), {l.ln1_w, l.ln1_b, l.qkv_w, l.qkv_b, l.proj_w, l.proj_b,
                                     l.ln2_w, l.ln2_b, l.fc_w, l.fc_b, l.out_w, l.out_b});
  return m;
}

// x [..., in] @ weight [out, in]^T + bias [out]: lg::linear, or matmul + add.
Tensor dense(const Config& c, const Tensor& x, const Tensor& w, const Tensor& b) {
  if (c.linear == "fused") return linear(x, w, b);
  Tensor y = matmul(x, w.t());
  return b.defined() ? y + b : y;
}

Tensor block(const Config& c, const Layer& l, const Tensor& x) {
  const int64_t B = c.batch, T = c.seq, d = c.d_model, H = c.heads;
  Tensor h = layer_norm(x, {d}, l.ln1_w, l.ln1_b);
  Tensor qkv = dense(c, h, l.qkv_w, l.qkv_b).view({B, T, 3, H, d / H}).permute({2, 0, 3, 1, 4});
  AttentionOptions causal{.causal = true};
  Tensor a = c.attention == "laser"
                 ? laser_attention(qkv.select(0, 0), qkv.select(0, 1), qkv.select(0, 2), causal)
                 : scaled_dot_product_attention(qkv.select(0, 0), qkv.select(0, 1),
                                                qkv.select(0, 2), causal);
  Tensor x1 = x + dense(c, a.permute({0, 2, 1, 3}).reshape({B, T, d}), l.proj_w, l.proj_b);
  Tensor m = gelu(dense(c, layer_norm(x1, {d}, l.ln2_w, l.ln2_b), l.fc_w, l.fc_b));
  return x1 + dense(c, m, l.out_w, l.out_b);
}

Tensor loss_of(const Config& c, const Model& m, const Tensor& ids, const Tensor& targets) {
  Tensor x = embedding(ids, m.tok) + m.pos;
  for (const Layer& l : m.layers) x = block(c, l, x);
  Tensor logits = dense(c, layer_norm(x, {c.d_model}, m.lnf_w, m.lnf_b), m.head_w, Tensor());
  return cross_entropy(logits.view({c.batch * c.seq, c.vocab}), targets.view({-1}));
}

// AdamW (PyTorch's defaults, lr 3e-4, weight decay 0.1) with in-place ops.
struct AdamW {
  std::vector<Tensor> m, v;
  int64_t step = 0;
  void update(const std::vector<Tensor>& params) {
    NoGradGuard no_grad;
    const double lr = 3e-4, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
    ++step;
    const double bc1 = 1 - std::pow(b1, step), bc2 = 1 - std::pow(b2, step);
    for (size_t i = 0; i < params.size(); ++i) {
      Tensor p = params[i];
      Tensor g = p.grad();
      if (m.size() <= i) {
        m.push_back(zeros_like(p));
        v.push_back(zeros_like(p));
      }
      p.mul_(1 - lr * wd);
      m[i].mul_(b1).add_(g, 1 - b1);
      v[i].mul_(b2).add_(g * g, 1 - b2);
      p.add_(m[i] / (sqrt(v[i] / bc2) + eps), -lr / bc1);
    }
  }
};

double now_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// CPU time of the whole process (all threads): on a shared machine, with one
// thread, a steadier measure of the work than wall time.
double cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

}  // namespace

struct GptSteps::State {
  Model model;
  Tensor ids, targets;
  AdamW opt;
};

GptSteps::GptSteps(const GptStepConfig& c) : c_(c) {
  LG_CHECK(c.d_model % c.heads == 0, "lg-bench: d_model ", c.d_model, " not divisible by heads ",
           c.heads);
  manual_seed(1234);
  state_ = std::make_shared<State>();
  state_->model = make_model(c);
  state_->ids = (rand({c.batch, c.seq}) * c.vocab).to(kInt64);
  state_->targets = (rand({c.batch, c.seq}) * c.vocab).to(kInt64);
  for (const Tensor& p : state_->model.params) params_ += p.numel();
}

GptStepTimes GptSteps::run(int warmup, int runs) {
  GptStepTimes t;
  const Model& model = state_->model;
  for (int i = 0; i < warmup + std::max(runs, 1); ++i) {
    for (const Tensor& p : model.params) p.zero_grad();
    const long f0 = minor_faults();
    const double c0 = cpu_ms();
    const double t0 = now_ms();
    Tensor loss = loss_of(c_, model, state_->ids, state_->targets);
    t.last_loss = loss.item<double>();
    const double t1 = now_ms();
    loss.backward();
    const double t2 = now_ms();
    if (c_.optimizer == "adamw") state_->opt.update(model.params);
    const double t3 = now_ms();
    if (i == 0) t.first_loss = t.last_loss;
    if (i >= warmup) {
      t.fwd.push_back(t1 - t0);
      t.bwd.push_back(t2 - t1);
      t.upd.push_back(t3 - t2);
      t.total.push_back(t3 - t0);
      t.cpu.push_back(cpu_ms() - c0);
      t.faults.push_back(static_cast<double>(minor_faults() - f0));
    }
  }
  return t;
}

namespace {

void run(const Common& common, const Config& c) {
  LG_CHECK(common.device == "cpu", "lg-bench train-gpt-ops: cpu only");
  GptSteps steps(c);
  const GptStepTimes t = steps.run(common.warmup, common.runs);
  const double step = median(t.total);
  std::printf(
      "{\"bench\":\"train_gpt\",\"impl\":\"lasergrad-ops\",\"linear\":\"%s\",\"attention\":\"%s\","
      "\"optimizer\":\"%s\",\"median_step_ms\":%.2f,\"median_step_cpu_ms\":%.2f,\"forward_ms\":%."
      "2f,\"backward_ms\":%.2f,"
      "\"optimizer_ms\":%.2f,\"page_faults_per_step\":%.0f,\"tokens_per_s\":%.1f,\"peak_rss_mb\":%."
      "1f,"
      "\"max_memory_allocated_mb\":%.1f,\"params\":%lld,\"threads\":%d,\"loss_first\":%.4f,"
      "\"loss_last\":%.4f}\n",
      c.linear.c_str(), c.attention.c_str(), c.optimizer.c_str(), step, median(t.cpu),
      median(t.fwd), median(t.bwd), median(t.upd), median(t.faults), c.batch * c.seq / (step / 1e3),
      peak_rss_mb(), max_memory_allocated() / 1048576.0, static_cast<long long>(steps.params()),
      get_num_threads(), t.first_loss, t.last_loss);
  std::fflush(stdout);
}

}  // namespace

Runner setup_train_gpt_ops(CLI::App& cmd) {
  auto c = std::make_shared<Config>();
  cmd.add_option("--batch", c->batch, "Sequences per step")->capture_default_str();
  cmd.add_option("--seq", c->seq, "Tokens per sequence")->capture_default_str();
  cmd.add_option("--d-model", c->d_model, "Model width")->capture_default_str();
  cmd.add_option("--heads", c->heads, "Attention heads")->capture_default_str();
  cmd.add_option("--layers", c->layers, "Transformer blocks")->capture_default_str();
  cmd.add_option("--vocab", c->vocab, "Vocabulary size")->capture_default_str();
  cmd.add_option("--attention", c->attention, "laser or softmax")
      ->check(CLI::IsMember({"laser", "softmax"}))
      ->capture_default_str();
  cmd.add_option("--optimizer", c->optimizer, "adamw (inline, in-place ops) or none")
      ->check(CLI::IsMember({"adamw", "none"}))
      ->capture_default_str();
  cmd.add_option("--linear", c->linear, "fused (lg::linear) or composite (matmul + add)")
      ->check(CLI::IsMember({"fused", "composite"}))
      ->capture_default_str();
  return [c](const Common& common) { run(common, *c); };
}

}  // namespace lg::bench
