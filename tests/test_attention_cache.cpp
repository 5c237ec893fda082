// Incremental decoding: MultiHeadAttention::forward_cached over an
// AttentionCache gives the rows forward() gives on the whole sequence, for
// softmax and LASER (whose cached exp(v - m) is rescaled as m rises, with the
// exact form where that underflows), and refuses what it cannot serve.
#include <doctest/doctest.h>

#include <lasergrad/lasergrad.h>
#include <lasergrad/nn/nn.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "test_util.h"

using namespace lg;

namespace {

double max_rel_diff(const Tensor& got, const Tensor& want) {
  std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  double scale = 0, diff = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    scale = std::max(scale, std::abs(w[i]));
    diff = std::max(diff, std::abs(g[i] - w[i]));
  }
  return diff / std::max(scale, 1e-30);
}

// The positions of x [B, T, C] fed in pieces of the given sizes, outputs joined.
Tensor incremental(const nn::MultiHeadAttention& mha, const Tensor& x,
                   const std::vector<int64_t>& pieces, nn::AttentionCache& cache) {
  std::vector<Tensor> out;
  int64_t at = 0;
  for (int64_t n : pieces) {
    out.push_back(mha.forward_cached(x.slice(1, at, at + n), cache));
    at += n;
  }
  return cat(out, 1);
}

}  // namespace

TEST_CASE("forward_cached gives forward()'s rows, fed at once, in pieces or one at a time") {
  for (nn::AttentionKind kind : {nn::AttentionKind::Softmax, nn::AttentionKind::Laser}) {
    CAPTURE(nn::attention_kind_name(kind));
    manual_seed(5);
    nn::MultiHeadAttention mha(16, 4, {.attention = kind, .causal = true});
    mha.eval();
    NoGradGuard no_grad;
    Tensor x = randn({2, 40, 16}) * 2.0;
    const Tensor full = mha.forward(x);
    for (const std::vector<int64_t>& pieces :
         {std::vector<int64_t>{40}, std::vector<int64_t>{7, 1, 1, 20, 11},
          std::vector<int64_t>(40, 1)}) {
      CAPTURE(pieces.size());
      nn::AttentionCache cache(64);
      Tensor got = incremental(mha, x, pieces, cache);
      CHECK(cache.length() == 40);
      CHECK(max_rel_diff(got, full) < 1e-5);
    }
  }
}

TEST_CASE("LASER's cache keeps the exact result where exp(v - m) underflows in float32") {
  // One head of d = 2; q = k = (a, 0), v = (0, b). Rows with a = 10 give the key
  // of the position with a = -30 a weight near e^-282, and its b = 150 sets
  // m = 150 in column 1: every other value's exp(v - m) is near e^-150, far
  // below float32's smallest normal, so the cached form underflows there.
  nn::MultiHeadAttention mha(2, 1, {.attention = nn::AttentionKind::Laser, .causal = true});
  mha.eval();
  NoGradGuard no_grad;
  mha.in_proj_weight.copy_(from_vector(std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1}, {6, 2}));
  mha.out_proj.weight.copy_(from_vector(std::vector<float>{1, 0, 0, 1}, {2, 2}));
  const int64_t T = 24, big = 5;
  manual_seed(8);
  Tensor x = randn({1, T, 2});
  x.select(2, 0).fill_(10.0);
  x.select(1, big).select(1, 0).fill_(-30.0);
  x.select(1, big).select(1, 1).fill_(150.0);
  nn::AttentionCache cache(T);
  std::vector<int64_t> ones(static_cast<size_t>(T), 1);
  Tensor got = incremental(mha, x, ones, cache);
  CHECK(got.all_finite());
  // The float64 forward (the fused kernel) of the same module.
  mha.to(kFloat64);
  Tensor want = mha.forward(x.to(kFloat64));
  CHECK(max_rel_diff(got, want) < 1e-5);
  // The rows after `big` lean on values far below m: without the exact form
  // they would be log(0) = -inf. Within a few float32 ulps of max|v| = 150,
  // the fused kernel's accuracy.
  Tensor after = got.slice(1, big + 1, T).to(kFloat64) - want.slice(1, big + 1, T);
  CHECK(after.abs().max().item<double>() < 150 * 1e-6);
}

TEST_CASE("TransformerBlock::forward_cached gives forward()'s rows; clear() starts again") {
  manual_seed(9);
  nn::TransformerBlock block(16, 2, {.attention = nn::AttentionKind::Laser, .causal = true});
  block.eval();
  NoGradGuard no_grad;
  Tensor x = randn({1, 12, 16});
  nn::AttentionCache cache(12);
  Tensor first = block.forward_cached(x.slice(1, 0, 5), cache);
  Tensor rest = block.forward_cached(x.slice(1, 5, 12), cache);
  CHECK(max_rel_diff(cat({first, rest}, 1), block.forward(x)) < 1e-5);
  cache.clear();
  CHECK(cache.length() == 0);
  CHECK(max_rel_diff(block.forward_cached(x.slice(1, 0, 3), cache),
                     block.forward(x.slice(1, 0, 3))) < 1e-5);
}

TEST_CASE("forward_cached refuses non-causal attention, a full cache and another batch size") {
  NoGradGuard no_grad;
  nn::MultiHeadAttention plain(8, 2);
  nn::AttentionCache cache(4);
  CHECK(contains(error_of([&] { plain.forward_cached(randn({1, 1, 8}), cache); }),
                 "nn::MultiHeadAttention::forward_cached: needs causal attention"));
  nn::MultiHeadAttention causal(8, 2, {.causal = true});
  causal.forward_cached(randn({1, 3, 8}), cache);
  CHECK(contains(error_of([&] { causal.forward_cached(randn({1, 2, 8}), cache); }),
                 "2 new positions after 3 do not fit a cache of capacity 4"));
  CHECK(contains(error_of([&] { causal.forward_cached(randn({2, 1, 8}), cache); }),
                 "does not match the cache's float32[1,2,4,4]"));
  CHECK(contains(error_of([&] { causal.forward_cached(randn({1, 1, 6}), cache); }),
                 "expected input [B, T >= 1, 8], got float32[1,1,6]"));
  cache.clear();
  CHECK(causal.forward_cached(randn({2, 1, 8}), cache).shape() == Shape{2, 1, 8});
}
