// The nn pieces together: a small transformer trained with AdamW, a warmup +
// cosine schedule, clipping and dropout; resuming from a checkpoint file is
// bitwise identical to an uninterrupted run.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include <cstdio>
#include <string>
#include <vector>

#include "test_util.h"

using namespace lg;

namespace {

struct TinyLM : nn::Module {
  nn::Embedding tok{11, 16};
  nn::PositionalEmbedding pos{8, 16};
  nn::TransformerBlock block{16, 2, {.attention = nn::AttentionKind::Laser, .causal = true, .dropout = 0.1}};
  nn::LayerNorm ln_f{16};
  nn::Linear head{16, 11, false};
  TinyLM() {
    register_module("tok", tok);
    register_module("pos", pos);
    register_module("block", block);
    register_module("ln_f", ln_f);
    register_module("head", head);
    head.weight = tok.weight;  // tied, restored tied from the file
  }
  Tensor loss(const Tensor& ids, const Tensor& targets) const {
    Tensor logits = head(ln_f(block(pos(tok(ids)))));
    return cross_entropy(logits.reshape({-1, 11}), targets.reshape({-1}));
  }
};

struct Run {
  TinyLM model;
  optim::AdamW opt{model.parameters(), {.lr = 3e-3, .weight_decay = 0.1}};
  optim::LRScheduler sched{opt, optim::WarmupCosine(2, 8, 0.1)};
};

// The same deterministic batch for step i in every run.
std::pair<Tensor, Tensor> batch(int step) {
  std::vector<int64_t> ids(2 * 8), targets(2 * 8);
  for (int i = 0; i < 16; ++i) {
    ids[i] = (i * 7 + step * 3) % 11;
    targets[i] = (ids[i] * 5 + 1) % 11;
  }
  return {tensor(ids, {2, 8}), tensor(targets, {2, 8})};
}

std::vector<float> train(Run& run, int from, int to, std::vector<double>* losses) {
  for (int step = from; step < to; ++step) {
    auto [ids, targets] = batch(step);
    run.opt.zero_grad();
    Tensor loss = run.model.loss(ids, targets);  // dropout draws from the global RNG
    loss.backward();
    nn::clip_grad_norm(run.model.parameters(), 0.5);
    run.opt.step();
    run.sched.step();
    if (losses) losses->push_back(loss.item<double>());
  }
  std::vector<float> all;
  for (const auto& p : run.model.parameters()) {
    auto v = p.to_vector<float>();
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

}  // namespace

TEST_CASE("training a small transformer lowers the loss") {
  set_num_threads(2);
  manual_seed(21);
  Run run;
  std::vector<double> losses;
  train(run, 0, 8, &losses);
  CHECK(losses.back() < losses.front());
}

TEST_CASE("resume from a checkpoint file equals the uninterrupted run bitwise") {
  set_num_threads(2);
  manual_seed(22);
  Run straight;
  std::vector<float> want = train(straight, 0, 8, nullptr);

  manual_seed(22);
  std::string path = "test_training_resume.safetensors";
  {
    Run first;
    train(first, 0, 4, nullptr);
    StateDict opt_state = first.opt.state_dict();
    for (auto& [name, t] : first.sched.state_dict()) opt_state["scheduler." + name] = t;
    save_checkpoint(path, {.model = first.model.state_dict(), .optimizer = opt_state, .step = 4,
                           .rng = get_rng_state(), .config = {{"layers", "1"}}});
  }
  manual_seed(999);  // a fresh process would not share the first run's RNG state
  Run resumed;       // fresh objects with other initial weights
  TrainingCheckpoint ck = load_checkpoint(path);
  std::remove(path.c_str());
  CHECK(ck.step == 4);
  CHECK(ck.config.at("layers") == "1");
  resumed.model.load_state_dict(ck.model);
  CHECK(resumed.model.head.weight.is_same(resumed.model.tok.weight));
  StateDict opt_state, sched_state;
  for (auto& [name, t] : ck.optimizer) {
    if (name.rfind("scheduler.", 0) == 0)
      sched_state[name.substr(10)] = t;
    else
      opt_state[name] = t;
  }
  resumed.opt.load_state_dict(opt_state);
  resumed.sched.load_state_dict(sched_state);
  set_rng_state(ck.rng);
  std::vector<float> got = train(resumed, static_cast<int>(ck.step), 8, nullptr);
  REQUIRE(got.size() == want.size());
  CHECK(got == want);
}
