// lg-speech's model: output shapes and lengths, parameter names, padding that
// never reaches the valid output frames (both attention kinds), config and
// input errors, a few Adam steps of CTC on one tiny batch lowering the loss,
// and the benchmark's JSON line on a tiny model.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench.h"
#include "speech_model.h"
#include "tests/test_util.h"

using lg::Tensor;
using lg::nn::AttentionKind;
using speech::SpeechModel;
using speech::SpeechModelConfig;

namespace {

SpeechModelConfig tiny(AttentionKind attention = AttentionKind::Laser, double dropout = 0.0) {
  return {.mels = 10,
          .d_model = 8,
          .layers = 2,
          .heads = 2,
          .ffn_dim = 16,
          .conv_kernel = 3,
          .subsampling_channels = 4,
          .vocab = 5,
          .attention = attention,
          .dropout = dropout};
}

// Random parameters and BatchNorm running statistics, so that no layer is an identity.
void randomize(lg::nn::Module& m) {
  lg::NoGradGuard g;
  for (auto& p : m.parameters()) p.copy_(random_uniform(p.shape(), p.dtype(), -0.5, 0.5));
  for (auto& [name, b] : m.named_buffers()) {
    if (name.ends_with("running_mean")) b.copy_(random_uniform(b.shape(), b.dtype(), -0.3, 0.3));
    if (name.ends_with("running_var")) b.copy_(random_uniform(b.shape(), b.dtype(), 0.5, 1.5));
  }
}

Tensor lengths_of(const std::vector<int64_t>& v) { return lg::from_vector(v); }

double max_abs_diff(const Tensor& a, const Tensor& b) {
  return lg::max(lg::abs(a.to(lg::kFloat64) - b.to(lg::kFloat64))).item<double>();
}

}  // namespace

TEST_CASE("output_length is the x4 subsampling's ceil(ceil(T / 2) / 2)") {
  const std::vector<std::pair<int64_t, int64_t>> cases = {
      {1, 1}, {2, 1}, {4, 1}, {5, 2}, {8, 2}, {9, 3}, {13, 4}, {200, 50}, {299, 75}, {300, 75}};
  for (auto [frames, want] : cases) {
    INFO(frames);
    CHECK(SpeechModel::output_length(frames) == want);
  }
}

TEST_CASE("SpeechModel gives time-first log-probs, the output lengths and PyTorch-like names") {
  lg::manual_seed(31);
  SpeechModel model(tiny());
  model.eval();
  Tensor features = random_uniform({3, 13, 10}, lg::kFloat32);
  auto [log_probs, out_lengths] = model.forward(features, lengths_of({13, 9, 5}));
  CHECK(log_probs.shape() == lg::Shape{4, 3, 5});
  CHECK(log_probs.dtype() == lg::kFloat32);
  CHECK(out_lengths.dtype() == lg::kInt64);
  CHECK(out_lengths.to_vector<int64_t>() == std::vector<int64_t>{4, 3, 2});
  // Each frame's probabilities sum to 1.
  Tensor total = lg::exp(log_probs).sum(-1);
  CHECK(max_abs_diff(total, lg::ones_like(total)) < 1e-5);

  const lg::StateDict state = model.state_dict();
  for (const char* name :
       {"subsampling.conv1.weight", "subsampling.conv1.bias", "subsampling.conv2.weight",
        "subsampling.linear.weight", "conformer_layers.0.ffn1.sequential.1.weight",
        "conformer_layers.1.self_attn.in_proj_weight",
        "conformer_layers.1.conv_module.sequential.3.running_var", "output.weight",
        "output.bias"}) {
    INFO(name);
    CHECK(state.count(name) == 1);
  }
  CHECK(state.at("subsampling.conv1.weight").shape() == lg::Shape{4, 1, 3, 3});
  CHECK(state.at("subsampling.linear.weight").shape() == lg::Shape{8, 4 * 3});  // ceil(10/4) = 3
  CHECK(state.at("output.weight").shape() == lg::Shape{5, 8});
}

TEST_CASE("SpeechModel in eval mode: an utterance alone gives its output inside a padded batch") {
  const std::vector<int64_t> lengths = {13, 9, 5, 1};
  for (auto kind : {AttentionKind::Softmax, AttentionKind::Laser}) {
    INFO(lg::nn::attention_kind_name(kind));
    lg::manual_seed(32);
    SpeechModel model(tiny(kind, 0.1));
    randomize(model);
    model.eval();
    // The padded frames hold large garbage: any leak would show.
    Tensor features = random_uniform({4, 13, 10}, lg::kFloat32);
    Tensor pad = lg::ge(lg::arange(0, 13, 1, {.dtype = lg::kInt64}).unsqueeze(0),
                        lengths_of(lengths).unsqueeze(1));
    features =
        lg::where(pad.unsqueeze(2), random_uniform({4, 13, 10}, lg::kFloat32, -30, 30), features);
    auto [batched, out_lengths] = model.forward(features, lengths_of(lengths));
    for (size_t b = 0; b < lengths.size(); ++b) {
      INFO("utterance ", b);
      const auto i = static_cast<int64_t>(b);
      const int64_t out = SpeechModel::output_length(lengths[b]);
      auto [alone, alone_length] = model.forward(
          features.slice(0, i, i + 1).slice(1, 0, lengths[b]), lengths_of({lengths[b]}));
      REQUIRE(alone.shape() == lg::Shape{out, 1, 5});
      CHECK(alone_length.item<int64_t>() == out);
      CHECK(max_abs_diff(alone, batched.slice(1, i, i + 1).slice(0, 0, out)) < 1e-5);
    }
  }
}

TEST_CASE("a few Adam steps of CTC on one tiny batch lower the loss") {
  lg::manual_seed(33);
  SpeechModel model(tiny(AttentionKind::Laser, 0.0));
  model.train();
  Tensor features = random_uniform({2, 24, 10}, lg::kFloat32);
  Tensor lengths = lengths_of({24, 17});
  Tensor targets = lg::from_vector(std::vector<int64_t>{1, 2, 3, 4, 2, 0}, {2, 3});
  Tensor target_lengths = lengths_of({3, 2});
  lg::optim::Adam optimizer(model.parameters(), {.lr = 3e-3});
  auto loss_now = [&] {
    auto [log_probs, out_lengths] = model.forward(features, lengths);
    return lg::ctc_loss(log_probs, targets, out_lengths, target_lengths);
  };
  const double first = loss_now().item<double>();
  double last = first;
  for (int step = 0; step < 30; ++step) {
    Tensor loss = loss_now();
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    last = loss.item<double>();
    REQUIRE(std::isfinite(last));
  }
  CHECK(last < 0.7 * first);
}

TEST_CASE("SpeechModel: bad configs and inputs are errors naming the setting or the shapes") {
  auto config_error = [](SpeechModelConfig c) { return error_of([&] { SpeechModel m(c); }); };
  SpeechModelConfig c = tiny();
  c.vocab = 0;
  CHECK(config_error(c) == "speech model: vocab must be >= 2 (the blank and one symbol), got 0");
  c = tiny();
  c.heads = 3;
  CHECK(config_error(c) == "speech model: heads 3 does not divide d_model 8");
  c = tiny();
  c.conv_kernel = 4;
  CHECK(config_error(c) == "speech model: conv_kernel must be odd and >= 1, got 4");
  c = tiny();
  c.mels = 0;
  CHECK(config_error(c) == "speech model: mels must be >= 1, got 0");
  c = tiny();
  c.dropout = 1.0;
  CHECK(contains(config_error(c), "speech model: dropout must lie in [0, 1)"));

  SpeechModel model(tiny());
  auto forward_error = [&](const Tensor& f, const Tensor& l) {
    return error_of([&] { model.forward(f, l); });
  };
  Tensor f = lg::zeros({2, 9, 10});
  CHECK(
      contains(forward_error(lg::zeros({2, 9, 11}), lengths_of({9, 9})),
               "speech::SpeechModel: expected features [B, T, 10] floating, got float32[2,9,11]"));
  CHECK(contains(forward_error(lg::zeros({9, 10}), lengths_of({9})), "got float32[9,10]"));
  CHECK(contains(forward_error(f, lengths_of({9})),
                 "speech::SpeechModel: expected lengths int64[2] for features float32[2,9,10]"));
  CHECK(contains(forward_error(f, lg::zeros({2})), "got float32[2]"));
  CHECK(contains(forward_error(f, lengths_of({9, 10})),
                 "speech::SpeechModel: a length 10 lies outside [1, 9]"));
  CHECK(contains(forward_error(f, lengths_of({0, 9})), "a length 0 lies outside [1, 9]"));
}

TEST_CASE("run_speech_bench writes one JSON line with the benchmark's keys") {
  speech::SpeechBenchOptions o;
  o.model = tiny(AttentionKind::Softmax, 0.1);
  o.threads = 1;
  o.warmup_steps = 1;
  o.steps = 2;
  o.batch = 3;
  o.frames = 60;
  o.min_frames = 48;
  o.target_length = 3;
  std::FILE* out = std::tmpfile();
  REQUIRE(out != nullptr);
  CHECK(speech::run_speech_bench(o, out) == 0);
  std::rewind(out);
  std::string text;
  for (int ch; (ch = std::fgetc(out)) != EOF;) text.push_back(static_cast<char>(ch));
  std::fclose(out);
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');
  CHECK(text.find('\n') == text.size() - 1);
  const auto line = nlohmann::json::parse(text);
  CHECK(line["bench"] == "train_speech");
  CHECK(line["framework"] == "lasergrad");
  CHECK(line["attention"] == "softmax");
  CHECK(line["device"] == "cpu");
  CHECK(line["threads"] == 1);
  CHECK(line["params"] == SpeechModel(o.model).num_parameters());
  for (const char* key :
       {"median_step_ms", "min_step_ms", "max_step_ms", "audio_s_per_s", "sgemm_gflops"}) {
    INFO(key);
    CHECK(line[key].get<double>() > 0);
  }
  CHECK(line["min_step_ms"].get<double>() <= line["max_step_ms"].get<double>());
  CHECK(line.contains("peak_rss_mb"));
  CHECK(line["isa"] == lg::cpu_isa());
  CHECK(line["openblas_core"] == lg::openblas_core());

  o.target_length = 10;  // 2 * 12 + 1 labels do not fit 48 frames' 12 outputs
  CHECK(contains(error_of([&] { speech::run_speech_bench(o, stdout); }),
                 "speech bench: target_length 10 must be >= 3 and fit"));
  o.target_length = 3;
  o.steps = 0;
  CHECK(error_of([&] { speech::run_speech_bench(o, stdout); }) ==
        "speech bench: steps must be >= 1, got 0");
}
