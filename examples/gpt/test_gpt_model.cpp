// lg-gpt's model in generation: the cached forward equals the full one, and
// sampling with the cache draws what sampling without it draws while the
// context is not full.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/char_vocab.h"
#include "gpt_model.h"
#include "session.h"

namespace {

gpt::GptShape tiny_shape(lg::nn::AttentionKind kind) {
  return {.vocab_size = 12, .seq_len = 48, .layers = 2, .d_model = 16, .heads = 2, .attention = kind};
}

double max_abs_diff(const lg::Tensor& a, const lg::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

}  // namespace

TEST_CASE("Gpt::forward_cached gives forward()'s logits, prompt first then one id at a time") {
  for (lg::nn::AttentionKind kind : {lg::nn::AttentionKind::Softmax, lg::nn::AttentionKind::Laser}) {
    CAPTURE(lg::nn::attention_kind_name(kind));
    lg::manual_seed(3);
    gpt::Gpt model(tiny_shape(kind));
    model.eval();
    lg::NoGradGuard no_grad;
    std::vector<int64_t> values;
    for (int64_t i = 0; i < 30; ++i) values.push_back(1 + (i * 7) % 11);
    lg::Tensor ids = lg::from_vector(values, {1, 30});
    const lg::Tensor full = model(ids);
    gpt::GptCache cache = model.make_cache();
    std::vector<lg::Tensor> pieces = {model.forward_cached(ids.slice(1, 0, 10), cache)};
    for (int64_t t = 10; t < 30; ++t) pieces.push_back(model.forward_cached(ids.slice(1, t, t + 1), cache));
    CHECK(cache.length() == 30);
    CHECK(max_abs_diff(lg::cat(pieces, 1), full) < 1e-5);
  }
}

TEST_CASE("sampling with the cache draws the uncached sample while the context is not full") {
  lg::manual_seed(4);
  gpt::Gpt model(tiny_shape(lg::nn::AttentionKind::Laser));
  model.eval();
  const examples::CharVocab vocab = examples::CharVocab::build(U"abcdefghij\n");
  REQUIRE(vocab.size() <= 12);
  const gpt::GenerateOptions cached{.length = 40, .temperature = 1.0}, uncached{
      .length = 40, .temperature = 1.0, .cache = false};
  lg::manual_seed(11);
  const std::string a = gpt::generate(model, vocab, "abc", cached, lg::Device::cpu(), {});
  lg::manual_seed(11);
  const std::string b = gpt::generate(model, vocab, "abc", uncached, lg::Device::cpu(), {});
  CHECK(a.size() == 40);
  CHECK(a == b);  // 3 + 40 characters fit the 48-character context
  // Past the context the cache restarts from its last half and keeps going.
  lg::manual_seed(11);
  const std::string longer = gpt::generate(model, vocab, "abc", {.length = 150}, lg::Device::cpu(), {});
  CHECK(longer.size() == 150);
  CHECK(longer.substr(0, 40) == a);
}
