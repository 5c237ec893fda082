// lg-vit's model: output shapes for both pools and attention kinds, the
// parameter count and names, shape validation and input errors, gradients to
// every parameter, dropout only in training, and a tiny model overfitting.
#include <doctest/doctest.h>

#include <cmath>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "vit_model.h"

using lg::nn::AttentionKind;
using vit::Pool;
using vit::Vit;
using vit::VitShape;

namespace {

VitShape tiny(AttentionKind attention = AttentionKind::Laser, Pool pool = Pool::Cls) {
  return {.image_size = 8,
          .channels = 2,
          .patch = 4,
          .d_model = 16,
          .layers = 2,
          .heads = 2,
          .mlp_ratio = 2,
          .classes = 3,
          .dropout = 0.0,
          .attention = attention,
          .pool = pool};
}

lg::Tensor images(const VitShape& s, int64_t batch) {
  return lg::randn({batch, s.channels, s.image_size, s.image_size});
}

// The expected count, written out layer by layer.
int64_t parameter_count(const VitShape& s) {
  const int64_t d = s.d_model, f = s.mlp_ratio * d;
  const int64_t patch = d * s.channels * s.patch * s.patch + d;
  const int64_t tokens =
      (s.image_size / s.patch) * (s.image_size / s.patch) + (s.pool == Pool::Cls ? 1 : 0);
  const int64_t cls = s.pool == Pool::Cls ? d : 0;
  const int64_t block = (3 * d * d + 3 * d) + (d * d + d) + (d * f + f) + (f * d + d) + 4 * d;
  return patch + cls + tokens * d + s.layers * block + 2 * d + (d * s.classes + s.classes);
}

std::string invalid_message(const VitShape& s) {
  try {
    Vit model(s);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no std::invalid_argument";
}

std::string forward_error(const Vit& model, const lg::Tensor& x) {
  try {
    (void)model(x);
  } catch (const lg::Error& e) {
    return e.what();
  }
  return "no lg::Error";
}

}  // namespace

TEST_CASE("logits are [B, classes] for both pools and both attention kinds") {
  lg::manual_seed(1);
  for (AttentionKind attention : {AttentionKind::Laser, AttentionKind::Softmax})
    for (Pool pool : {Pool::Cls, Pool::Mean}) {
      CAPTURE(std::string(lg::nn::attention_kind_name(attention)));
      CAPTURE(std::string(vit::pool_name(pool)));
      Vit model(tiny(attention, pool));
      lg::Tensor logits = model(images(model.shape(), 5));
      CHECK(logits.shape() == lg::Shape{5, 3});
      CHECK(logits.all_finite());
      CHECK(model.pos_embed.shape() == lg::Shape{1, pool == Pool::Cls ? 5 : 4, 16});
      CHECK(model.cls_token.defined() == (pool == Pool::Cls));
    }
}

TEST_CASE("the two pools and the two attention kinds compute different logits") {
  auto logits = [](AttentionKind attention, Pool pool) {
    lg::manual_seed(2);
    Vit model(tiny(attention, pool));
    {
      lg::NoGradGuard no_grad;  // away from the near-uniform attention of the 0.02 init
      for (auto& p : model.parameters()) p.add_(lg::randn(p.shape()) * 0.3);
    }
    lg::manual_seed(3);
    return model(images(model.shape(), 2)).to_vector<double>();
  };
  const auto laser_cls = logits(AttentionKind::Laser, Pool::Cls);
  CHECK(laser_cls != logits(AttentionKind::Softmax, Pool::Cls));
  const auto laser_mean = logits(AttentionKind::Laser, Pool::Mean);
  CHECK(laser_mean != logits(AttentionKind::Softmax, Pool::Mean));
}

TEST_CASE("the parameter count follows the layer-by-layer formula") {
  for (Pool pool : {Pool::Cls, Pool::Mean}) {
    CHECK(Vit(tiny(AttentionKind::Laser, pool)).num_parameters() ==
          parameter_count(tiny(AttentionKind::Laser, pool)));
  }
  VitShape bench;  // the defaults: the benchmark model
  CHECK(Vit(bench).num_parameters() == parameter_count(bench));
  CHECK(parameter_count(bench) == 540170);
}

TEST_CASE("parameter names are the PyTorch twin's") {
  Vit model(tiny());
  std::set<std::string> names;
  for (const auto& [name, tensor] : model.state_dict()) names.insert(name);
  const std::set<std::string> want = {"patch_embed.weight", "patch_embed.bias", "cls_token",
                                      "pos_embed",          "norm.weight",      "norm.bias",
                                      "head.weight",        "head.bias"};
  for (const std::string& name : want) CHECK_MESSAGE(names.count(name) == 1, name);
  for (const char* block : {"blocks.0.", "blocks.1."})
    for (const char* part :
         {"self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
          "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight",
          "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"})
      CHECK_MESSAGE(names.count(std::string(block) + part) == 1, block << part);
  CHECK(names.size() == want.size() + 2 * 12);
  Vit mean(tiny(AttentionKind::Laser, Pool::Mean));
  CHECK(mean.state_dict().count("cls_token") == 0);
}

TEST_CASE("a bad shape is std::invalid_argument naming the setting") {
  struct Bad {
    void (*edit)(VitShape&);
    const char* want;
  };
  const std::vector<Bad> bad = {
      {[](VitShape& s) { s.patch = 3; }, "patch 3 does not divide image_size 8"},
      {[](VitShape& s) { s.patch = 0; }, "patch must lie in [1, 8], got 0"},
      {[](VitShape& s) { s.patch = 16; }, "patch must lie in [1, 8], got 16"},
      {[](VitShape& s) { s.heads = 3; }, "heads 3 does not divide d_model 16"},
      {[](VitShape& s) { s.heads = 0; }, "heads must lie in"},
      {[](VitShape& s) { s.layers = 0; }, "layers must lie in"},
      {[](VitShape& s) { s.d_model = -4; }, "d_model must lie in"},
      {[](VitShape& s) { s.image_size = 0; }, "image_size must lie in"},
      {[](VitShape& s) { s.channels = 0; }, "channels must lie in"},
      {[](VitShape& s) { s.mlp_ratio = 0; }, "mlp_ratio must lie in"},
      {[](VitShape& s) { s.classes = 1; }, "classes must lie in"},
      {[](VitShape& s) { s.dropout = 1.0; }, "dropout must lie in [0, 1)"},
      {[](VitShape& s) { s.dropout = std::nan(""); }, "dropout must lie in [0, 1)"},
      {[](VitShape& s) { s.d_model = int64_t{1} << 40; }, "d_model must lie in"},
  };
  for (const Bad& b : bad) {
    VitShape s = tiny();
    b.edit(s);
    const std::string message = invalid_message(s);
    CAPTURE(message);
    CHECK(message.find("vit shape: ") == 0);
    CHECK(message.find(b.want) != std::string::npos);
  }
  CHECK_THROWS_AS(vit::pool_from_string("max"), std::invalid_argument);
  CHECK(vit::pool_from_string("mean") == Pool::Mean);
}

TEST_CASE("images of the wrong shape or dtype are an lg::Error naming both shapes") {
  Vit model(tiny());
  const std::vector<lg::Tensor> bad = {lg::randn({2, 3, 8, 8}),
                                       lg::randn({2, 2, 8, 12}),
                                       lg::randn({2, 2, 4, 4}),
                                       lg::randn({2, 8, 8}),
                                       lg::randn({0, 2, 8, 8}),
                                       lg::randn({2, 2, 8, 8}).to(lg::kFloat64),
                                       lg::zeros({2, 2, 8, 8}, {.dtype = lg::kInt64}),
                                       lg::Tensor()};
  for (const lg::Tensor& x : bad) {
    const std::string message = forward_error(model, x);
    CAPTURE(message);
    CHECK(message.find("Vit: expected images float32[B, 2, 8, 8]") == 0);
    CHECK(message.find(x.defined() ? x.describe() : std::string("undefined")) != std::string::npos);
  }
  model.to(lg::kFloat64);  // then float64 images are the right ones
  CHECK(model(lg::randn({1, 2, 8, 8}).to(lg::kFloat64)).shape() == lg::Shape{1, 3});
}

TEST_CASE("the loss's gradient reaches every parameter") {
  for (Pool pool : {Pool::Cls, Pool::Mean}) {
    CAPTURE(std::string(vit::pool_name(pool)));
    lg::manual_seed(4);
    Vit model(tiny(AttentionKind::Laser, pool));
    lg::cross_entropy(model(images(model.shape(), 4)), lg::tensor<int64_t>({0, 1, 2, 1}))
        .backward();
    for (const auto& [name, p] : model.named_parameters()) {
      CAPTURE(name);
      REQUIRE(p.grad().defined());
      CHECK(p.grad().abs().max().item<double>() > 0);
      CHECK(p.grad().all_finite());
    }
  }
}

TEST_CASE("dropout is active in training and off in eval") {
  lg::manual_seed(5);
  VitShape s = tiny();
  s.dropout = 0.5;
  Vit model(s);
  const lg::Tensor x = images(s, 2);
  model.eval();
  CHECK(model(x).to_vector<double>() == model(x).to_vector<double>());
  model.train();
  CHECK(model(x).to_vector<double>() != model(x).to_vector<double>());
}

TEST_CASE("weight decay splits off biases, norms, the class token and position embeddings") {
  Vit model(tiny());
  const vit::WeightDecaySplit split = vit::split_for_weight_decay(model);
  CHECK(split.decay.size() + split.no_decay.size() == model.parameters().size());
  // Per block in_proj, out_proj, linear1, linear2; plus the patch kernel and the head.
  CHECK(split.decay.size() == 2 * 4 + 2);
  for (const lg::Tensor& p : split.decay) CHECK(p.dim() >= 2);
  auto holds = [](const std::vector<lg::Tensor>& v, const lg::Tensor& t) {
    for (const lg::Tensor& p : v)
      if (p.is_same(t)) return true;
    return false;
  };
  CHECK(holds(split.no_decay, model.cls_token));
  CHECK(holds(split.no_decay, model.pos_embed));
  CHECK(holds(split.decay, model.patch_embed.weight));
  CHECK(holds(split.decay, model.head.weight));
}

TEST_CASE("a tiny model overfits a handful of random images") {
  for (AttentionKind attention : {AttentionKind::Laser, AttentionKind::Softmax}) {
    CAPTURE(std::string(lg::nn::attention_kind_name(attention)));
    lg::manual_seed(6);
    Vit model(tiny(attention));
    const lg::Tensor x = images(model.shape(), 8);
    const lg::Tensor y = lg::tensor<int64_t>({0, 1, 2, 0, 1, 2, 0, 1});
    lg::optim::Adam optimizer(model.parameters(), {.lr = 1e-2});
    double first = 0, last = 0;
    for (int step = 0; step < 50; ++step) {
      lg::Tensor loss = lg::cross_entropy(model(x), y);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      (step == 0 ? first : last) = loss.item<double>();
    }
    CAPTURE(first);
    CAPTURE(last);
    CHECK(first > 0.9);  // about log(3) at the start
    CHECK(last < 0.02 * first);
  }
}
