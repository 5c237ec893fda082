// MultiHeadAttention (softmax and LASER) and TransformerBlock against plain
// loops, their PyTorch parameter names, and gradchecks through them.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>
#include <lasergrad/nn/nn.h>

#include <cmath>
#include <vector>

#include "test_util.h"

using namespace lg;

namespace {


using Mat = std::vector<double>;  // row-major

// y [rows, out] = x [rows, in] @ w[out, in]ᵀ + b
Mat affine(const Mat& x, const Mat& w, const Mat& b, int rows, int in, int out, int w_row0 = 0) {
  Mat y(static_cast<size_t>(rows * out));
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < out; ++o) {
      double acc = b.empty() ? 0.0 : b[w_row0 + o];
      for (int i = 0; i < in; ++i) acc += x[r * in + i] * w[(w_row0 + o) * in + i];
      y[r * out + o] = acc;
    }
  return y;
}

// Multi-head self-attention of x [B*T, C] with plain loops.
Mat mha_reference(const nn::MultiHeadAttention& m, const Mat& x, int B, int T, bool laser,
                  bool causal) {
  const int C = static_cast<int>(m.embed_dim), H = static_cast<int>(m.num_heads), d = C / H;
  Mat w = m.in_proj_weight.to_vector<double>(), b = m.in_proj_bias.to_vector<double>();
  Mat q = affine(x, w, b, B * T, C, C, 0), k = affine(x, w, b, B * T, C, C, C),
      v = affine(x, w, b, B * T, C, C, 2 * C);
  Mat o(static_cast<size_t>(B * T * C));
  for (int bb = 0; bb < B; ++bb)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < T; ++i) {
        std::vector<double> s(T, -INFINITY);
        double mx = -INFINITY;
        for (int j = 0; j < T; ++j) {
          if (causal && j > i) continue;
          double acc = 0;
          for (int c = 0; c < d; ++c) acc += q[(bb * T + i) * C + h * d + c] * k[(bb * T + j) * C + h * d + c];
          s[j] = acc / std::sqrt(static_cast<double>(d));
          mx = std::max(mx, s[j]);
        }
        double z = 0;
        for (int j = 0; j < T; ++j) z += std::exp(s[j] - mx);
        for (int c = 0; c < d; ++c) {
          double acc = 0;
          for (int j = 0; j < T; ++j) {
            double a = std::exp(s[j] - mx) / z, vj = v[(bb * T + j) * C + h * d + c];
            acc += a * (laser ? std::exp(vj) : vj);
          }
          o[(bb * T + i) * C + h * d + c] = laser ? std::log(acc) : acc;
        }
      }
  return affine(o, m.out_proj.weight.to_vector<double>(), m.out_proj.bias.to_vector<double>(),
                B * T, C, C);
}


void randomize(nn::Module& m) {
  NoGradGuard g;
  for (auto& p : m.parameters()) p.copy_(random_uniform(p.shape(), p.dtype(), -0.5, 0.5));
}

}  // namespace

TEST_CASE("MultiHeadAttention has torch.nn.MultiheadAttention's parameter names and init") {
  manual_seed(11);
  nn::MultiHeadAttention mha(8, 2);
  std::vector<std::string> names;
  for (const auto& [n, t] : mha.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight",
                                          "out_proj.bias"});
  CHECK(mha.in_proj_weight.shape() == Shape{24, 8});
  for (double b : mha.in_proj_bias.to_vector<double>()) CHECK(b == 0.0);
  for (double b : mha.out_proj.bias.to_vector<double>()) CHECK(b == 0.0);
  CHECK_ERROR(nn::MultiHeadAttention(10, 3), "MultiHeadAttention", "multiple of num_heads 3");
  CHECK_ERROR(mha(random_uniform({2, 3, 6}, kFloat32)), "MultiHeadAttention", "[B, T, 8]");
  CHECK(nn::attention_kind_from_string("laser") == nn::AttentionKind::Laser);
  CHECK_ERROR(nn::attention_kind_from_string("flash"), "softmax", "laser", "flash");
}

TEST_CASE("MultiHeadAttention matches plain loops for softmax and LASER, causal or not") {
  for (bool laser : {false, true})
    for (bool causal : {false, true}) {
      CAPTURE(laser);
      CAPTURE(causal);
      manual_seed(12);
      nn::MultiHeadAttention mha(8, 2,
                                 {.attention = laser ? nn::AttentionKind::Laser : nn::AttentionKind::Softmax,
                                  .causal = causal});
      mha.to(kFloat64);
      randomize(mha);
      Tensor x = random_uniform({2, 5, 8});
      check_close(mha(x), mha_reference(mha, x.to_vector<double>(), 2, 5, laser, causal), 1e-11);
    }
}

TEST_CASE("TransformerBlock is pre-norm with a GELU MLP and PyTorch's names") {
  manual_seed(13);
  nn::TransformerBlock block(8, 2, {.attention = nn::AttentionKind::Laser, .causal = true});
  std::vector<std::string> names;
  for (const auto& [n, t] : block.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{
                     "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
                     "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight",
                     "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"});
  CHECK(block.linear1.weight.shape() == Shape{32, 8});
  block.to(kFloat64);
  randomize(block);
  Tensor x = random_uniform({2, 4, 8});
  // The reference from the block's own sub-layers, each checked above or in test_nn.
  Tensor h = x + block.self_attn(block.norm1(x));
  Tensor want = h + block.linear2(gelu(block.linear1(block.norm2(h))));
  check_close(block(x), want.to_vector<double>(), 1e-12);
  // And the attention part against loops.
  Mat n1 = block.norm1(x).to_vector<double>();
  Mat attn = mha_reference(block.self_attn, n1, 2, 4, true, true);
  Mat hv = h.to_vector<double>(), xv = x.to_vector<double>();
  for (size_t i = 0; i < hv.size(); ++i) CHECK(hv[i] == doctest::Approx(xv[i] + attn[i]).epsilon(1e-10));
}

TEST_CASE("gradcheck through a TransformerBlock and through Linear's parameters") {
  manual_seed(14);
  for (auto kind : {nn::AttentionKind::Softmax, nn::AttentionKind::Laser}) {
    nn::TransformerBlock block(4, 2, {.attention = kind, .causal = true, .dim_feedforward = 6});
    block.to(kFloat64);
    randomize(block);
    Tensor x = random_uniform({1, 3, 4}).requires_grad_();
    auto r = gradcheck([&](const std::vector<Tensor>& in) { return block(in[0]); }, {x});
    CHECK_MESSAGE(r.ok, r.message);
  }
  nn::Linear lin(3, 2);
  lin.to(kFloat64);
  Tensor x = random_uniform({4, 3}).requires_grad_();
  Tensor w = lin.weight.detach().clone().requires_grad_();
  Tensor b = lin.bias.detach().clone().requires_grad_();
  auto r = gradcheck(
      [&](const std::vector<Tensor>& in) {
        lin.weight = in[1];  // the module reads its registered member
        lin.bias = in[2];
        return lin(in[0]);
      },
      {x, w, b});
  CHECK_MESSAGE(r.ok, r.message);
}

TEST_CASE("backward through a block fills every parameter's grad") {
  manual_seed(15);
  nn::TransformerBlock block(8, 2, {.causal = true, .dropout = 0.1});
  Tensor x = random_uniform({2, 6, 8}, kFloat32);
  mean(block(x) * block(x)).backward();
  for (const auto& [name, p] : block.named_parameters()) {
    CAPTURE(name);
    REQUIRE(p.grad().defined());
    CHECK(p.grad().all_finite());
  }
  block.zero_grad();
  for (const auto& p : block.parameters()) CHECK(!p.grad().defined());
  block.eval();
  CHECK(block(x).to_vector<float>() == block(x).to_vector<float>());  // no dropout in eval
}
