// lg-gpt's model in generation: the cached forward equals the full one, and
// sampling with the cache draws what sampling without it draws while the
// context is not full.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cli.h"
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

TEST_CASE("the masked LM attends both ways, and --fill replaces each [MASK] with one character") {
  lg::manual_seed(4);
  gpt::TrainConfig config;
  config.objective = "mlm";
  config.layers = 1;
  config.d_model = 16;
  config.heads = 2;
  config.seq_len = 24;
  const examples::CharVocab vocab = examples::CharVocab::build(U"abcdefgh ");
  const gpt::GptShape shape = gpt::model_shape(config, vocab.size());
  CHECK(shape.vocab_size == vocab.size() + 1);  // [MASK] after the characters
  CHECK_FALSE(shape.causal);
  gpt::Gpt model(shape);
  model.eval();
  lg::NoGradGuard no_grad;
  // Changing the last token changes the first position's logits (a causal model's would not).
  const std::vector<int64_t> a = {1, 2, 3, 4}, b = {1, 2, 3, 5};
  const lg::Tensor first_a = model(lg::from_vector(a, {1, 4})).select(1, 0);
  const lg::Tensor first_b = model(lg::from_vector(b, {1, 4})).select(1, 0);
  CHECK(max_abs_diff(first_a, first_b) > 1e-4);
  config.objective = "clm";
  gpt::Gpt causal(gpt::model_shape(config, vocab.size()));
  causal.eval();
  CHECK(max_abs_diff(causal(lg::from_vector(a, {1, 4})).select(1, 0),
                     causal(lg::from_vector(b, {1, 4})).select(1, 0)) < 1e-6);  // LASER's shift: rounding

  const std::string filled = gpt::fill_masks(model, vocab, "ab[MASK]d e[MASK]", lg::Device::cpu());
  REQUIRE(filled.size() == 7);
  CHECK(filled.substr(0, 2) == "ab");
  CHECK(filled.substr(3, 3) == "d e");
  for (size_t i : {size_t{2}, size_t{6}}) CHECK(vocab.contains(static_cast<char32_t>(filled[i])));
  // The prediction is the arg max over the characters at the masked position.
  const std::vector<int64_t> ids = {vocab.id(U'a'), vocab.id(U'b'), vocab.size()};
  const lg::Tensor logits = model(lg::from_vector(ids, {1, 3})).select(0, 0).select(0, 2);
  const int64_t best = lg::argmax(logits.slice(0, 1, vocab.size())).item<int64_t>() + 1;
  CHECK(gpt::fill_masks(model, vocab, "ab[MASK]", lg::Device::cpu()) ==
        std::string("ab") + static_cast<char>(vocab.character(best)));
  auto error = [&](const std::string& text) {
    try {
      gpt::fill_masks(model, vocab, text, lg::Device::cpu());
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(error("xyz[MASK]").find("U+0078 is not in the model's vocabulary") != std::string::npos);
  CHECK(error("abc").find("no [MASK]") != std::string::npos);
  CHECK(error(std::string(30, 'a') + "[MASK]").find("31 characters long") != std::string::npos);
}

TEST_CASE("the masked LM's ALiBi bias is -slope |i - j| with slopes 2^(-8h/H)") {
  const lg::Tensor bias = gpt::alibi_bias(2, 3);
  CHECK(bias.shape() == lg::Shape{1, 2, 3, 3});
  const std::vector<float> b = bias.to_vector<float>();
  const float m1 = 1.0f / 16, m2 = 1.0f / 256;  // 2^-4, 2^-8
  const std::vector<float> want = {0, -m1, -2 * m1, -m1, 0, -m1, -2 * m1, -m1, 0,
                                   0, -m2, -2 * m2, -m2, 0, -m2, -2 * m2, -m2, 0};
  CHECK(b == want);
}
