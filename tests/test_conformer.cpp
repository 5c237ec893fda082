// nn::ConformerBlock: shapes, torchaudio's state-dict names, padding that
// never reaches the valid frames (both attention kinds), gradchecks and errors.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>
#include <lasergrad/nn/nn.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "test_util.h"

using namespace lg;

namespace {

// Random parameters and running statistics, so that no layer is an identity.
void randomize(nn::Module& m) {
  NoGradGuard g;
  for (auto& p : m.parameters()) p.copy_(random_uniform(p.shape(), p.dtype(), -0.5, 0.5));
  for (auto& [name, b] : m.named_buffers()) {
    if (name.ends_with("running_mean")) b.copy_(random_uniform(b.shape(), b.dtype(), -0.3, 0.3));
    if (name.ends_with("running_var")) b.copy_(random_uniform(b.shape(), b.dtype(), 0.5, 1.5));
  }
}

// [B, T] bool, true from lengths[b] on.
Tensor padding_mask(const std::vector<int64_t>& lengths, int64_t t) {
  Tensor lens = from_vector(lengths).unsqueeze(1);
  return ge(arange(0, t, 1, {.dtype = kInt64}).unsqueeze(0), lens);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  return max(abs(a.to(kFloat64) - b.to(kFloat64))).item<double>();
}

}  // namespace

TEST_CASE("ConformerBlock keeps [B, T, C] and has torchaudio ConformerLayer's state-dict names") {
  manual_seed(21);
  nn::ConformerBlock block(8, 2, 16, 3);
  Tensor y = block(random_uniform({2, 5, 8}, kFloat32));
  CHECK(y.shape() == Shape{2, 5, 8});
  CHECK(y.dtype() == kFloat32);

  // torchaudio.models.conformer.ConformerLayer(8, 16, 2, 3).state_dict(),
  // names and shapes as printed by torchaudio 0.13.1.
  const std::vector<std::pair<std::string, Shape>> want = {
      {"ffn1.sequential.0.weight", {8}},
      {"ffn1.sequential.0.bias", {8}},
      {"ffn1.sequential.1.weight", {16, 8}},
      {"ffn1.sequential.1.bias", {16}},
      {"ffn1.sequential.4.weight", {8, 16}},
      {"ffn1.sequential.4.bias", {8}},
      {"self_attn_layer_norm.weight", {8}},
      {"self_attn_layer_norm.bias", {8}},
      {"self_attn.in_proj_weight", {24, 8}},
      {"self_attn.in_proj_bias", {24}},
      {"self_attn.out_proj.weight", {8, 8}},
      {"self_attn.out_proj.bias", {8}},
      {"conv_module.layer_norm.weight", {8}},
      {"conv_module.layer_norm.bias", {8}},
      {"conv_module.sequential.0.weight", {16, 8, 1}},
      {"conv_module.sequential.0.bias", {16}},
      {"conv_module.sequential.2.weight", {8, 1, 3}},
      {"conv_module.sequential.2.bias", {8}},
      {"conv_module.sequential.3.weight", {8}},
      {"conv_module.sequential.3.bias", {8}},
      {"conv_module.sequential.3.running_mean", {8}},
      {"conv_module.sequential.3.running_var", {8}},
      {"conv_module.sequential.3.num_batches_tracked", {}},
      {"conv_module.sequential.5.weight", {8, 8, 1}},
      {"conv_module.sequential.5.bias", {8}},
      {"ffn2.sequential.0.weight", {8}},
      {"ffn2.sequential.0.bias", {8}},
      {"ffn2.sequential.1.weight", {16, 8}},
      {"ffn2.sequential.1.bias", {16}},
      {"ffn2.sequential.4.weight", {8, 16}},
      {"ffn2.sequential.4.bias", {8}},
      {"final_layer_norm.weight", {8}},
      {"final_layer_norm.bias", {8}},
  };
  const StateDict state = block.state_dict();
  CHECK(state.size() == want.size());
  int64_t params = 0;
  std::vector<std::string> want_order;  // the parameters, without the buffers
  for (const auto& [name, shape] : want) {
    INFO(name);
    REQUIRE(state.count(name) == 1);
    CHECK(state.at(name).shape() == shape);
    if (name.find("running_") != std::string::npos || name.ends_with("num_batches_tracked"))
      continue;
    want_order.push_back(name);
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    params += n;
  }
  CHECK(block.num_parameters() == params);
  // The parameters come out in torchaudio's order too.
  std::vector<std::string> order;
  for (const auto& [name, t] : block.named_parameters()) order.push_back(name);
  CHECK(order == want_order);
  // A state dict loads back strictly.
  nn::ConformerBlock other(8, 2, 16, 3, {.attention = nn::AttentionKind::Laser});
  other.load_state_dict(state);
}

TEST_CASE("ConformerBlock in eval mode: padding never reaches the valid frames") {
  manual_seed(22);
  const std::vector<int64_t> lengths = {7, 4, 2};
  const int64_t c = 8, t = 7;
  for (auto kind : {nn::AttentionKind::Softmax, nn::AttentionKind::Laser}) {
    INFO(nn::attention_kind_name(kind));
    nn::ConformerBlock block(c, 2, 16, 5, {.attention = kind, .dropout = 0.1});
    randomize(block);
    block.eval();
    // Padded frames hold large garbage: any leak would show.
    Tensor x = random_uniform({3, t, c}, kFloat32, -1, 1);
    Tensor pad = padding_mask(lengths, t);
    Tensor garbage = random_uniform({3, t, c}, kFloat32, -50, 50);
    x = where(pad.unsqueeze(2), garbage, x);
    Tensor batched = block(x, pad);
    for (size_t b = 0; b < lengths.size(); ++b) {
      const int64_t len = lengths[b];
      Tensor alone = block(x.slice(0, int64_t(b), int64_t(b) + 1).slice(1, 0, len));
      Tensor inside = batched.slice(0, int64_t(b), int64_t(b) + 1).slice(1, 0, len);
      CHECK(max_abs_diff(alone, inside) < 1e-5);
    }
    // Without the mask the garbage does reach the valid frames of the short ones.
    Tensor unmasked = block(x);
    Tensor alone = block(x.slice(0, 2, 3).slice(1, 0, 2));
    CHECK(max_abs_diff(alone, unmasked.slice(0, 2, 3).slice(1, 0, 2)) > 1e-2);
  }
}

TEST_CASE("gradcheck through a ConformerBlock with padding, both attention kinds") {
  manual_seed(23);
  for (auto kind : {nn::AttentionKind::Softmax, nn::AttentionKind::Laser}) {
    INFO(nn::attention_kind_name(kind));
    nn::ConformerBlock block(4, 2, 6, 3, {.attention = kind});
    block.to(kFloat64);
    randomize(block);
    Tensor pad = padding_mask({4, 3}, 4);
    Tensor x = random_uniform({2, 4, 4}).requires_grad_();
    for (bool training : {true, false}) {
      INFO("training ", training);
      block.train(training);
      auto r = gradcheck([&](const std::vector<Tensor>& in) { return block(in[0], pad); }, {x});
      CHECK_MESSAGE(r.ok, r.message);
    }
  }
}

TEST_CASE("backward through a ConformerBlock fills every parameter's grad") {
  manual_seed(24);
  nn::ConformerBlock block(8, 2, 16, 3, {.attention = nn::AttentionKind::Laser, .dropout = 0.1});
  Tensor y = block(random_uniform({2, 6, 8}, kFloat32), padding_mask({6, 3}, 6));
  mean(y * y).backward();
  for (const auto& [name, p] : block.named_parameters()) {
    INFO(name);
    REQUIRE(p.grad().defined());
    CHECK(p.grad().shape() == p.shape());
  }
  // Training updated the BatchNorm's running statistics.
  CHECK(block.conv_module.batch_norm->num_batches_tracked.item<int64_t>() == 1);
}

TEST_CASE("ConformerBlock: bad settings and inputs are lg::Errors naming the layer and shapes") {
  CHECK(contains(error_of([] { nn::ConformerBlock(8, 3, 16, 3); }),
                 "nn::ConformerBlock: d_model 8 must be a positive multiple of num_heads 3"));
  CHECK(contains(error_of([] { nn::ConformerBlock(8, 2, 16, 4); }),
                 "nn::ConformerBlock: conv_kernel must be odd"));
  CHECK(contains(error_of([] { nn::ConformerBlock(8, 2, 0, 3); }),
                 "nn::ConformerBlock: ffn_dim must be positive, got 0"));
  CHECK(contains(error_of([] { nn::ConformerBlock(8, 2, 16, 3, {.dropout = 1.5}); }),
                 "nn::ConformerBlock: dropout must lie in [0, 1], got 1.5"));

  nn::ConformerBlock block(8, 2, 16, 3);
  std::string e = error_of([&] { block(zeros({2, 5, 6})); });
  CHECK(contains(e, "nn::ConformerBlock: expected a floating input [B, T, 8], got float32[2,5,6]"));
  CHECK(contains(error_of([&] { block(zeros({5, 8})); }), "got float32[5,8]"));
  CHECK(contains(error_of([&] { block(zeros({2, 5, 8}, {.dtype = kInt64})); }), "int64[2,5,8]"));
  CHECK(contains(error_of([&] { block(Tensor()); }), "got undefined"));
  e = error_of([&] { block(zeros({2, 5, 8}), zeros({2, 4}, {.dtype = kBool})); });
  CHECK(contains(e, "nn::ConformerBlock: key_padding must be bool [B, T] = [2,5]"));
  CHECK(contains(e, "got bool[2,4]"));
  e = error_of([&] { block(zeros({2, 5, 8}), zeros({2, 5})); });
  CHECK(contains(e, "got float32[2,5]"));
}
