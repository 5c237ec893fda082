// Training on the GPU against the CPU: the op registry's float64 gradcheck
// with every op running on the device, a short GPT training run whose
// per-step losses must match the CPU's, and checkpoints moved between the
// devices (model and optimizer state). Exits 77 (ctest: skipped) without a GPU.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>
#include <lasergrad/nn/checkpoint.h>
#include <lasergrad/nn/clip_grad.h>
#include <lasergrad/nn/nn.h>
#include <lasergrad/nn/optimizer.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "test_util.h"
#include "testing/registry.h"

using namespace lg;

namespace {

const Device kCuda = Device::cuda(0);

// ---------------------------------------------------------------------------
// (a) The registry's gradcheck on the device

// x on `device` in x's own memory order where x is a permutation of a dense
// tensor (the registry's strided leaves), so that the device's kernels see
// non-contiguous inputs too; any other layout arrives contiguous. Differentiable.
Tensor to_device_keeping_layout(const Tensor& x, Device device) {
  if (!x.defined() || x.is_contiguous()) return x.defined() ? x.to(device) : x;
  std::vector<int64_t> order(static_cast<size_t>(x.dim()));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return x.strides()[a] > x.strides()[b]; });
  const Tensor dense = x.permute(order);
  if (!dense.is_contiguous()) return x.to(device);
  std::vector<int64_t> inverse(order.size());
  for (size_t i = 0; i < order.size(); ++i)
    inverse[static_cast<size_t>(order[i])] = static_cast<int64_t>(i);
  return dense.to(device).permute(inverse);
}

// The op with its inputs moved to the device and its output back: gradcheck
// perturbs the CPU inputs, and both the forward and the backward run on the GPU.
GradcheckFn on_device(const OpInfo& op, Device device) {
  return [&op, device](const std::vector<Tensor>& inputs) {
    std::vector<Tensor> moved;
    for (const Tensor& t : inputs) moved.push_back(to_device_keeping_layout(t, device));
    Tensor out = op.call(moved);
    LG_CHECK(out.device() == device, op.name, " returned a tensor on ", out.device().str());
    return out.to(Device::cpu());
  };
}

// Registry entries not checked on the device, with why. Empty: every entry's
// ops have CUDA kernels (float64 attention runs its composite formula there).
const std::map<std::string, std::string> kSkippedOnDevice = {};

TEST_CASE("every registered op passes gradcheck and gradgradcheck in float64 on the device") {
  manual_seed(2024);
  int checked = 0;
  for (const OpInfo* entry : op_registry()) {
    const OpInfo& op = *entry;
    if (auto skip = kSkippedOnDevice.find(op.name); skip != kSkippedOnDevice.end()) {
      MESSAGE("skipped on the device: " << op.name << ": " << skip->second);
      continue;
    }
    const GradcheckFn fn = on_device(op, kCuda);
    for (const OpSample& s : op.samples()) {
      INFO(op.name << " / " << s.description << " on " << kCuda.str());
      GradcheckResult r = gradcheck(fn, s.inputs);
      CHECK_MESSAGE(r.ok, r.message);
      if (op.check_gradgrad) {
        GradcheckResult rr = gradgradcheck(fn, s.inputs);
        CHECK_MESSAGE(rr.ok, rr.message);
      }
      ++checked;
    }
  }
  CHECK(checked > 100);
}

TEST_CASE("a strided leaf keeps its memory order on the device") {
  Tensor x = randn({4, 3}, {.dtype = kFloat64}).t();
  Tensor moved = to_device_keeping_layout(x, kCuda);
  CHECK_FALSE(moved.is_contiguous());
  CHECK(moved.strides() == x.strides());
  CHECK(moved.to(Device::cpu()).to_vector<double>() == x.to_vector<double>());
}

// ---------------------------------------------------------------------------
// A tiny GPT (the shape of lg-gpt's: token and position embeddings, a pre-norm
// causal LASER block, a final LayerNorm and a linear head), dropout 0.

constexpr int64_t kVocab = 11, kSeq = 16, kDModel = 32, kHeads = 2, kBatch = 4;

class TinyGpt : public nn::Module {
 public:
  TinyGpt()
      : tok_emb(kVocab, kDModel),
        pos_emb(kSeq, kDModel),
        block(kDModel, kHeads, {.attention = nn::AttentionKind::Laser, .causal = true}),
        ln_f(kDModel),
        lm_head(kDModel, kVocab, /*bias=*/false) {
    register_module("tok_emb", tok_emb);
    register_module("pos_emb", pos_emb);
    register_module("block", block);
    register_module("ln_f", ln_f);
    register_module("lm_head", lm_head);
    nn::init::normal_(tok_emb.weight, 0.0, 0.02);
    nn::init::normal_(pos_emb.weight, 0.0, 0.02);
    nn::init::normal_(lm_head.weight, 0.0, 0.02);
  }
  Tensor forward(const Tensor& ids) const { return lm_head(ln_f(block(pos_emb(tok_emb(ids))))); }

  nn::Embedding tok_emb;
  nn::PositionalEmbedding pos_emb;
  nn::TransformerBlock block;
  nn::LayerNorm ln_f;
  nn::Linear lm_head;
};

// The batch of a step, made on the CPU as a trainer's loader makes it: a
// counting sequence with a random start per row, so the loss has a pattern to learn.
struct Batch {
  Tensor inputs, targets;
};
Batch batch_of(int64_t step) {
  std::vector<int64_t> in, out;
  for (int64_t r = 0; r < kBatch; ++r) {
    const int64_t start = (step * 7 + r * 3) % kVocab;
    for (int64_t t = 0; t < kSeq; ++t) {
      in.push_back((start + t) % kVocab);
      out.push_back((start + t + 1) % kVocab);
    }
  }
  return {from_vector(in, {kBatch, kSeq}), from_vector(out, {kBatch, kSeq})};
}

// A model built on the CPU from seed 5 (the same weights for every device),
// then moved to `device`, and its AdamW (decay on matrices, as the trainers).
struct Run {
  explicit Run(Device device) {
    manual_seed(5);
    model = std::make_unique<TinyGpt>();
    model->to(device);
    std::vector<Tensor> decay, no_decay;
    for (const Tensor& p : model->parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
    optimizer = std::make_unique<optim::AdamW>(
        std::vector<optim::ParamGroup>{{.params = decay},
                                       {.params = no_decay, .weight_decay = 0.0}},
        optim::AdamWOptions{.lr = 3e-3, .beta1 = 0.9, .beta2 = 0.95, .weight_decay = 0.1});
    model->train();
    this->device = device;
  }
  // One training step (clipped at norm 1, as lg-gpt's default): the loss before it.
  double step(int64_t s) {
    const Batch b = batch_of(s);
    Tensor loss = cross_entropy(model->forward(b.inputs.to(device)), b.targets.to(device));
    optimizer->zero_grad();
    loss.backward();
    nn::clip_grad_norm(model->parameters(), 1.0);
    optimizer->step();
    return loss.item<double>();
  }
  Device device;
  std::unique_ptr<TinyGpt> model;
  std::unique_ptr<optim::AdamW> optimizer;
};

// |a - b| <= tol * max(1, |b|), elementwise.
double worst_relative(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::fabs(a[i] - b[i]) / std::max(1.0, std::fabs(b[i])));
  return worst;
}

// ---------------------------------------------------------------------------
// (b) GPT training on both devices

// Tolerance: float32 on both devices, TF32 off (the default); the devices sum
// in different orders (cuBLAS against OpenBLAS, tree reductions against the
// CPU's), so the first loss differs by ~1e-7 relative, and 20 AdamW steps at
// lr 3e-3 grow that to a few 1e-6 on this model (Adam divides each update by
// its gradient's running magnitude, so gradient rounding moves weights by
// ~lr * 1e-6 per step at most). 1e-4 leaves a margin of 10x and still catches
// a wrong kernel, which moves the first loss or a later one by 1e-2 or more.
TEST_CASE("a tiny GPT trains on the device with the CPU's per-step losses") {
  Run cpu(Device::cpu()), gpu(kCuda);
  std::vector<double> cpu_losses, gpu_losses;
  for (int64_t s = 0; s < 20; ++s) {
    cpu_losses.push_back(cpu.step(s));
    gpu_losses.push_back(gpu.step(s));
  }
  INFO("cpu first/last " << cpu_losses.front() << " / " << cpu_losses.back() << ", cuda "
                         << gpu_losses.front() << " / " << gpu_losses.back());
  CHECK(std::fabs(gpu_losses[0] - cpu_losses[0]) <= 1e-5 * cpu_losses[0]);
  CHECK(worst_relative(gpu_losses, cpu_losses) <= 1e-4);
  CHECK(cpu_losses.back() < cpu_losses.front());  // it learns at all
  for (const Tensor& p : gpu.model->parameters()) CHECK(p.device() == kCuda);
}

// ---------------------------------------------------------------------------
// (c) Checkpoints across devices

// The same names, shapes, dtypes and values; every tensor but the
// optimizer's step counters and group settings (CPU scalars) on `device`.
void check_same_tensors(const StateDict& got, const StateDict& want, Device device) {
  REQUIRE(got.size() == want.size());
  for (const auto& [name, w] : want) {
    INFO(name);
    REQUIRE(got.count(name));
    const Tensor& g = got.at(name);
    CHECK(g.shape() == w.shape());
    CHECK(g.dtype() == w.dtype());
    const bool cpu_scalar = name.rfind("param_groups.", 0) == 0 || name.ends_with(".step");
    if (!cpu_scalar) CHECK(g.device() == device);
    CHECK(g.to(Device::cpu()).to(kFloat64).to_vector<double>() ==
          w.to(Device::cpu()).to(kFloat64).to_vector<double>());
  }
}

// Trains `from` 3 steps, saves its checkpoint, loads it into a fresh run on
// `to`: the same values there (on `to`), and the next step's loss agrees.
void move_checkpoint(Device from, Device to) {
  TempDir dir("lg_cuda_checkpoint");
  const std::string path = dir.file("checkpoint.safetensors");
  Run a(from);
  for (int64_t s = 0; s < 3; ++s) a.step(s);
  save_checkpoint(path, {.model = a.model->state_dict(),
                         .optimizer = a.optimizer->state_dict(),
                         .step = 3,
                         .rng = get_rng_state()});
  const TrainingCheckpoint loaded = load_checkpoint(path);
  for (const auto& [name, t] : loaded.model) CHECK_MESSAGE(t.device().is_cpu(), name);
  Run b(to);
  b.model->load_state_dict(loaded.model);
  b.optimizer->load_state_dict(loaded.optimizer);
  check_same_tensors(b.model->state_dict(), a.model->state_dict(), to);
  check_same_tensors(b.optimizer->state_dict(), a.optimizer->state_dict(), to);
  const double la = a.step(3), lb = b.step(3);
  CHECK(std::fabs(la - lb) <= 1e-5 * std::max(1.0, std::fabs(la)));
}

TEST_CASE("a checkpoint saved on the device loads on the CPU with the same values") {
  move_checkpoint(kCuda, Device::cpu());
}

TEST_CASE("a checkpoint saved on the CPU loads on the device with the same values") {
  move_checkpoint(Device::cpu(), kCuda);
}

}  // namespace
