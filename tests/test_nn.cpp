// nn::Module (registration, names, state_dict, train/eval, to, tying,
// summary) and the layers' forwards against hand-computed references.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>
#include <lasergrad/nn/nn.h>

#include <cmath>
#include <vector>

#include "test_util.h"

using namespace lg;

namespace {



struct Net : nn::Module {
  nn::Linear fc1{6, 5}, fc2{5, 3};
  Net() {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
  }
  Tensor forward(const Tensor& x) const { return fc2(relu(fc1(x))); }
};

// A tiny language model with its head tied to the embedding.
struct TiedLM : nn::Module {
  nn::Embedding tok{7, 4};
  nn::Linear head{4, 7, false};
  TiedLM() {
    register_module("tok", tok);
    register_module("head", head);
    head.weight = tok.weight;
  }
};

std::vector<std::string> names(const nn::NamedTensors& named) {
  std::vector<std::string> out;
  for (const auto& [n, t] : named) out.push_back(n);
  return out;
}

}  // namespace

TEST_CASE("Module registers parameters with dotted names in order") {
  Net net;
  CHECK(names(net.named_parameters()) ==
        std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"});
  CHECK(net.fc1.weight.shape() == Shape{5, 6});  // [out, in] as PyTorch
  CHECK(net.parameters().size() == 4);
  CHECK(net.num_parameters() == 5 * 6 + 5 + 3 * 5 + 3);
  for (const auto& p : net.parameters()) CHECK((p.requires_grad() && p.is_leaf()));
  auto modules = net.named_modules();
  REQUIRE(modules.size() == 3);
  CHECK(modules[1].first == "fc1");
  std::string s = net.summary();
  CHECK(s.find("(fc1): Linear(in_features=6, out_features=5, bias=true)") != std::string::npos);
  CHECK(s.find("parameters: 53") != std::string::npos);
}

TEST_CASE("Module registration errors") {
  Net net;
  Tensor t = zeros({2});
  CHECK_ERROR(net.register_parameter("fc1", t), "already registered");
  CHECK_ERROR(net.register_parameter("a.b", t), "no '.'");
  Tensor ints = zeros({2}, {.dtype = kInt64});
  CHECK_ERROR(net.register_parameter("ints", ints), "floating", "int64");
  Tensor undefined;
  CHECK_ERROR(net.register_buffer("u", undefined), "undefined");
  CHECK_ERROR(nn::Linear(0, 3), "nn::Linear", "positive");
  CHECK_ERROR(net.fc1(random_uniform({2, 4}, kFloat32)), "nn::Linear", "in_features=6");
}

TEST_CASE("Linear forward and default initialisation") {
  manual_seed(3);
  nn::Linear lin(8, 5);
  double bound = 1.0 / std::sqrt(8.0);
  for (double w : lin.weight.to_vector<double>()) CHECK(std::fabs(w) <= bound);
  for (double b : lin.bias.to_vector<double>()) CHECK(std::fabs(b) <= bound);
  Tensor x = random_uniform({2, 3, 8}, kFloat32);
  auto xv = x.to_vector<double>(), w = lin.weight.to_vector<double>(), b = lin.bias.to_vector<double>();
  std::vector<double> want(2 * 3 * 5);
  for (int r = 0; r < 6; ++r)
    for (int o = 0; o < 5; ++o) {
      double acc = b[o];
      for (int i = 0; i < 8; ++i) acc += xv[r * 8 + i] * w[o * 8 + i];
      want[r * 5 + o] = acc;
    }
  Tensor y = lin(x);
  CHECK(y.shape() == Shape{2, 3, 5});
  check_close(y, want, 1e-5);
  nn::Linear nobias(8, 5, false);
  CHECK(nobias.named_parameters().size() == 1);
}

TEST_CASE("state_dict round trip is bit exact and strict loading reports every problem") {
  manual_seed(1);
  Net a, b;
  Tensor x = random_uniform({4, 6}, kFloat32);
  CHECK(a.forward(x).to_vector<float>() != b.forward(x).to_vector<float>());
  b.load_state_dict(a.state_dict());
  CHECK(a.forward(x).to_vector<float>() == b.forward(x).to_vector<float>());

  StateDict sd = a.state_dict();
  sd.erase("fc2.bias");
  sd["extra.weight"] = zeros({1});
  sd["fc1.weight"] = zeros({5, 7});
  CHECK_ERROR(b.load_state_dict(sd), "load_state_dict", "missing keys: fc2.bias",
              "unexpected keys: extra.weight", "fc1.weight (expected [5,6], got [5,7])");
  // Non-strict: shape mismatches still fail, missing/unexpected names do not.
  sd["fc1.weight"] = zeros({5, 6});
  b.load_state_dict(sd, /*strict=*/false);
  CHECK(b.fc1.weight.to_vector<float>() == std::vector<float>(30, 0.0f));
}

TEST_CASE("tied weights are listed once, saved under both names and restored tied") {
  manual_seed(2);
  TiedLM m;
  CHECK(names(m.named_parameters()) == std::vector<std::string>{"tok.weight"});
  StateDict sd = m.state_dict();
  CHECK(sd.size() == 2);
  CHECK(sd.count("head.weight") == 1);
  TiedLM fresh;
  StateDict only_one{{"tok.weight", sd["tok.weight"]}};
  fresh.load_state_dict(only_one);  // the tied name may be absent (safetensors stores it once)
  CHECK(fresh.head.weight.is_same(fresh.tok.weight));
  CHECK(fresh.head.weight.to_vector<float>() == m.tok.weight.to_vector<float>());
  fresh.to(kFloat64);
  CHECK(fresh.head.weight.is_same(fresh.tok.weight));
  CHECK(fresh.tok.weight.dtype() == kFloat64);
  CHECK(fresh.tok.weight.requires_grad());
}

TEST_CASE("train and eval propagate, dropout is the identity in eval") {
  nn::Sequential seq;
  seq.add<nn::Linear>(4, 4);
  auto& drop = seq.add<nn::Dropout>(0.5);
  CHECK(drop.is_training());
  seq.eval();
  CHECK(!drop.is_training());
  Tensor x = random_uniform({3, 4}, kFloat32);
  CHECK(drop(x).to_vector<float>() == x.to_vector<float>());
  seq.train();
  manual_seed(5);
  auto y = drop(ones({1000})).to_vector<float>();
  int zeros_seen = 0;
  for (float v : y) {
    CHECK((v == 0.0f || v == 2.0f));
    zeros_seen += v == 0.0f;
  }
  CHECK(zeros_seen > 400);
  CHECK(zeros_seen < 600);
  CHECK_ERROR(nn::Dropout(1.5), "nn::Dropout", "1.5");
}

TEST_CASE("Sequential and ModuleList number their children as PyTorch") {
  manual_seed(4);
  nn::Sequential seq;
  auto& l0 = seq.add<nn::Linear>(3, 4);
  seq.add<nn::ReLU>();
  auto& l2 = seq.add<nn::Linear>(4, 2);
  seq.add([](const Tensor& t) { return t * 2.0; });
  CHECK(names(seq.named_parameters()) ==
        std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  Tensor x = random_uniform({5, 3}, kFloat32);
  Tensor want = l2(relu(l0(x))) * 2.0;
  CHECK(seq(x).to_vector<float>() == want.to_vector<float>());
  CHECK(seq.size() == 4);
  CHECK_ERROR(seq[4], "nn::Sequential", "out of range");

  nn::ModuleList list;
  list.emplace_back<nn::LayerNorm>(4);
  list.emplace_back<nn::Linear>(4, 4);
  CHECK(names(list.named_parameters()) ==
        std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias"});
  CHECK(list.at<nn::Linear>(1).in_features == 4);
  CHECK_ERROR(list.at<nn::Linear>(0), "ModuleList::at", "LayerNorm");
}

TEST_CASE("Embedding rows and padding_idx") {
  manual_seed(6);
  nn::Embedding emb(5, 3, /*padding_idx=*/-1);
  CHECK(*emb.padding_idx == 4);
  auto w = emb.weight.to_vector<double>();
  for (int j = 0; j < 3; ++j) CHECK(w[4 * 3 + j] == 0.0);
  Tensor ids = tensor(std::vector<int64_t>{2, 0, 4, 2}, {2, 2});
  Tensor y = emb(ids);
  CHECK(y.shape() == Shape{2, 2, 3});
  std::vector<double> want;
  for (int64_t i : {2, 0, 4, 2})
    for (int j = 0; j < 3; ++j) want.push_back(w[i * 3 + j]);
  check_close(y, want, 0);
  sum(y * y).backward();
  auto g = emb.weight.grad().to_vector<double>();
  for (int j = 0; j < 3; ++j) CHECK(g[4 * 3 + j] == 0.0);
  CHECK(g[2 * 3] == doctest::Approx(4 * w[2 * 3]));
}

TEST_CASE("LayerNorm RMSNorm and BatchNorm1d against hand-computed references") {
  manual_seed(7);
  Tensor x = random_uniform({3, 4});
  auto xv = x.to_vector<double>();
  nn::LayerNorm ln(4);
  nn::RMSNorm rms(4, 1e-6);
  ln.to(kFloat64);
  rms.to(kFloat64);
  {
    NoGradGuard g;
    ln.weight.copy_(random_uniform({4}));
    ln.bias.copy_(random_uniform({4}));
    rms.weight.copy_(random_uniform({4}));
  }
  auto lw = ln.weight.to_vector<double>(), lb = ln.bias.to_vector<double>(),
       rw = rms.weight.to_vector<double>();
  std::vector<double> want_ln, want_rms;
  for (int r = 0; r < 3; ++r) {
    double mean = 0, var = 0, ms = 0;
    for (int j = 0; j < 4; ++j) mean += xv[r * 4 + j] / 4;
    for (int j = 0; j < 4; ++j) var += std::pow(xv[r * 4 + j] - mean, 2) / 4;
    for (int j = 0; j < 4; ++j) ms += xv[r * 4 + j] * xv[r * 4 + j] / 4;
    for (int j = 0; j < 4; ++j) {
      want_ln.push_back((xv[r * 4 + j] - mean) / std::sqrt(var + 1e-5) * lw[j] + lb[j]);
      want_rms.push_back(xv[r * 4 + j] / std::sqrt(ms + 1e-6) * rw[j]);
    }
  }
  check_close(ln(x), want_ln, 1e-12);
  check_close(rms(x), want_rms, 1e-12);

  nn::BatchNorm1d bn(4);
  bn.to(kFloat64);
  CHECK(names(bn.named_buffers()) ==
        std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"});
  Tensor y = bn(x);
  CHECK(bn.num_batches_tracked.item<int64_t>() == 1);
  auto rm = bn.running_mean.to_vector<double>(), rv = bn.running_var.to_vector<double>();
  auto yv = y.to_vector<double>();
  for (int c = 0; c < 4; ++c) {
    double mean = 0, var = 0;
    for (int r = 0; r < 3; ++r) mean += xv[r * 4 + c] / 3;
    for (int r = 0; r < 3; ++r) var += std::pow(xv[r * 4 + c] - mean, 2);
    CHECK(rm[c] == doctest::Approx(0.1 * mean));
    CHECK(rv[c] == doctest::Approx(0.9 + 0.1 * var / 2));  // unbiased in the running stat
    CHECK(yv[c] == doctest::Approx((xv[c] - mean) / std::sqrt(var / 3 + 1e-5)));
  }
  bn.eval();
  auto ye = bn(x).to_vector<double>();
  CHECK(ye[1] == doctest::Approx((xv[1] - rm[1]) / std::sqrt(rv[1] + 1e-5)));
  CHECK(bn.num_batches_tracked.item<int64_t>() == 1);
  CHECK(bn.state_dict().count("num_batches_tracked") == 1);
  CHECK_ERROR(bn(random_uniform({3, 5})), "nn::BatchNorm1d", "[3,5]");
}

TEST_CASE("Conv1d and Conv2d against direct loops") {
  manual_seed(8);
  nn::Conv1d conv(2, 3, 3, {.padding = 1});
  conv.to(kFloat64);
  CHECK(conv.weight.shape() == Shape{3, 2, 3});
  Tensor x = random_uniform({1, 2, 5});
  auto xv = x.to_vector<double>(), w = conv.weight.to_vector<double>(), b = conv.bias.to_vector<double>();
  std::vector<double> want;
  for (int o = 0; o < 3; ++o)
    for (int t = 0; t < 5; ++t) {
      double acc = b[o];
      for (int i = 0; i < 2; ++i)
        for (int k = 0; k < 3; ++k) {
          int s = t + k - 1;
          if (s >= 0 && s < 5) acc += w[(o * 2 + i) * 3 + k] * xv[i * 5 + s];
        }
      want.push_back(acc);
    }
  check_close(conv(x), want, 1e-12);

  nn::Conv2d conv2(2, 4, {3, 3}, {.stride = {2, 2}, .padding = {1, 1}, .groups = 2});
  CHECK(conv2.weight.shape() == Shape{4, 1, 3, 3});
  CHECK(conv2(random_uniform({2, 2, 7, 7}, kFloat32)).shape() == Shape{2, 4, 4, 4});
  CHECK(conv2.extra_repr().find("groups=2") != std::string::npos);
  CHECK_ERROR(nn::Conv2d(3, 4, {3, 3}, {.groups = 2}), "nn::Conv2d", "divisible by groups 2");
}

TEST_CASE("init functions follow PyTorch's bounds") {
  manual_seed(9);
  Tensor w = empty({64, 32});
  nn::init::xavier_uniform_(w);
  double bound = std::sqrt(6.0 / 96);
  double max_abs = 0;
  for (double v : w.to_vector<double>()) max_abs = std::max(max_abs, std::fabs(v));
  CHECK(max_abs <= bound);
  CHECK(max_abs > 0.9 * bound);
  Tensor k = empty({16, 4, 3});
  nn::init::kaiming_uniform_(k, 0.0, nn::init::FanMode::FanIn, "relu");
  max_abs = 0;
  for (double v : k.to_vector<double>()) max_abs = std::max(max_abs, std::fabs(v));
  CHECK(max_abs <= std::sqrt(2.0) * std::sqrt(3.0 / 12));
  CHECK(nn::init::calculate_fan_in_and_fan_out(k) == std::pair<int64_t, int64_t>{12, 48});
  CHECK(nn::init::calculate_gain("tanh") == doctest::Approx(5.0 / 3));
  CHECK_ERROR(nn::init::calculate_gain("swish"), "calculate_gain", "swish");
  Tensor v = empty({5});
  CHECK_ERROR(nn::init::xavier_uniform_(v), "fan", "[5]");
}

TEST_CASE("positional embeddings") {
  manual_seed(10);
  nn::PositionalEmbedding pos(8, 4);
  Tensor x = random_uniform({2, 3, 4}, kFloat32);
  auto y = pos(x).to_vector<float>(), xv = x.to_vector<float>(), w = pos.weight.to_vector<float>();
  CHECK(y[12 + 2 * 4 + 1] == xv[12 + 2 * 4 + 1] + w[2 * 4 + 1]);
  CHECK_ERROR(pos(random_uniform({1, 9, 4}, kFloat32)), "PositionalEmbedding", "T <= 8");
  Tensor pe = nn::sinusoidal_positional_encoding(5, 6);
  auto p = pe.to_vector<double>();
  CHECK(p[3 * 6 + 2] == doctest::Approx(std::sin(3.0 / std::pow(10000.0, 2.0 / 6))));
  CHECK(p[3 * 6 + 3] == doctest::Approx(std::cos(3.0 / std::pow(10000.0, 2.0 / 6))));
}
