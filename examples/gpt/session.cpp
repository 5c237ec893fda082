#include "session.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "cli.h"
#include "common/utf8.h"

namespace gpt {

lg::Device setup_runtime(const TrainConfig& config) {
  return examples::setup_runtime(config.threads, config.device);
}

GptShape model_shape(const TrainConfig& config, int64_t vocab_size) {
  const bool mlm = config.objective == "mlm";
  return {.vocab_size = vocab_size + (mlm ? 1 : 0),  // mlm: [MASK] after the characters
          .seq_len = config.seq_len,
          .layers = config.layers,
          .d_model = config.d_model,
          .heads = config.heads,
          .attention = lg::nn::attention_kind_from_string(config.attention),
          .dropout = config.dropout,
          .causal = !mlm};
}

examples::LoopSettings loop_settings(const TrainConfig& config) {
  return {.program = "lg-gpt",
          .out = config.out,
          .resume = config.resume,
          .steps = config.steps,
          .stop_after = config.stop_after,
          .lr = config.lr,
          .min_lr_ratio = 0.1,
          .warmup = config.warmup,
          .weight_decay = config.weight_decay,
          .beta1 = 0.9,
          .beta2 = 0.95,
          .grad_clip = config.grad_clip,
          .eval_every = config.eval_every,
          .checkpoint_every = config.checkpoint_every,
          .log_every = config.log_every,
          .diagnose_gradients = config.diagnose_gradients,
          .items_per_step = static_cast<double>(config.batch) * config.seq_len,
          .items = "tokens",
          .items_short = "tok",
          .bucket_mb = config.bucket_mb,
          .other_files = {}};
}

lg::Metadata checkpoint_metadata(const TrainConfig& config, const examples::CharVocab& vocab,
                                 const std::string& text_source, const std::string& text_hash,
                                 int64_t text_chars) {
  lg::Metadata m = config.model_metadata();
  m["gpt.vocab"] = vocab.to_string();
  m["gpt.seed"] = std::to_string(config.seed);
  m["gpt.text"] = text_source;
  m["gpt.text_chars"] = std::to_string(text_chars);
  m["gpt.text_hash"] = text_hash;
  return m;
}

std::vector<int64_t> prompt_ids(const examples::CharVocab& vocab, const std::string& prompt) {
  std::vector<int64_t> ids;
  for (char32_t c : examples::decode_utf8(prompt)) {
    if (!vocab.contains(c))
      throw UsageError("--prompt: the character " + examples::code_point_name(c) +
                       " is not in the model's vocabulary");
    ids.push_back(vocab.id(c));
  }
  return ids;
}

std::string generate(const Gpt& model, const examples::CharVocab& vocab, const std::string& prompt,
                     const GenerateOptions& options, lg::Device device,
                     const std::function<void(const std::string&)>& emit) {
  std::vector<int64_t> ids = prompt_ids(vocab, prompt);
  if (ids.empty()) ids.push_back(vocab.contains(U'\n') ? vocab.id(U'\n') : 1);
  lg::NoGradGuard no_grad;
  const int64_t context = model.shape().seq_len, vocab_size = vocab.size();
  const int64_t k = options.top_k > 0 ? std::min(options.top_k, vocab_size - 1) : 0;
  std::string out;
  GptCache cache = model.make_cache();
  int64_t start = 0;  // ids[start + i] is the cache's position i
  for (int64_t n = 0; n < options.length; ++n) {
    const auto total = static_cast<int64_t>(ids.size());
    lg::Tensor last;  // the logits of the last character's position [V]
    if (options.cache) {
      // The characters the cache lacks; a full cache restarts from its last half.
      if (cache.length() == 0 || total - start > context) {
        const int64_t keep = cache.length() == 0 ? std::min(context, total) : std::max<int64_t>(1, context / 2);
        start = total - keep;
        cache.clear();
      }
      std::vector<int64_t> feed(ids.begin() + start + cache.length(), ids.end());
      const auto t = static_cast<int64_t>(feed.size());
      last = model.forward_cached(lg::from_vector(feed, {1, t}).to(device), cache)
                 .select(1, t - 1)
                 .select(0, 0);
    } else {
      const int64_t from = total - std::min(context, total);
      std::vector<int64_t> window(ids.begin() + from, ids.end());
      const auto t = static_cast<int64_t>(window.size());
      last = model(lg::from_vector(window, {1, t}).to(device)).select(1, t - 1).select(0, 0);
    }
    // The logits over the real characters (ids 1.., not <unk>).
    lg::Tensor logits = last.slice(0, 1, vocab_size);
    logits = (logits.to(lg::Device::cpu()) / options.temperature).to(lg::kFloat64);
    int64_t id;
    if (k > 0) {
      lg::TopK top = lg::topk(logits, k);
      const int64_t pick = lg::multinomial(lg::softmax(top.values, -1), 1).item<int64_t>();
      id = top.indices.to_vector<int64_t>()[static_cast<size_t>(pick)] + 1;
    } else {
      id = lg::multinomial(lg::softmax(logits, -1), 1).item<int64_t>() + 1;
    }
    ids.push_back(id);
    const std::string piece = examples::encode_utf8(vocab.character(id));
    out += piece;
    if (emit) emit(piece);
  }
  return out;
}

void print_sample(const Gpt& model, const examples::CharVocab& vocab, const TrainConfig& config,
                  lg::Device device, int64_t length) {
  lg::manual_seed(config.seed);
  std::printf("sample (temperature %g, top-k %d):\n%s", config.temperature, config.top_k,
              config.prompt.c_str());
  std::fflush(stdout);
  generate(model, vocab, config.prompt,
           {.length = length, .temperature = config.temperature, .top_k = config.top_k}, device,
           [](const std::string& piece) {
             std::fputs(piece.c_str(), stdout);
             std::fflush(stdout);
           });
  std::printf("\n");
}

}  // namespace gpt

namespace gpt {

lg::Tensor alibi_bias(int64_t heads, int64_t length) {
  std::vector<float> bias(static_cast<size_t>(heads * length * length));
  for (int64_t h = 0; h < heads; ++h) {
    const double slope = std::pow(2.0, -8.0 * static_cast<double>(h + 1) / static_cast<double>(heads));
    for (int64_t i = 0; i < length; ++i)
      for (int64_t j = 0; j < length; ++j)
        bias[static_cast<size_t>((h * length + i) * length + j)] =
            static_cast<float>(-slope * static_cast<double>(std::abs(i - j)));
  }
  return lg::from_vector(bias, {1, heads, length, length});
}

std::string fill_masks(const Gpt& model, const examples::CharVocab& vocab, const std::string& text,
                       lg::Device device) {
  const std::u32string chars = examples::decode_utf8(text);
  const std::u32string marker = examples::decode_utf8(kMaskMarker);
  const int64_t mask_id = vocab.size();
  std::vector<int64_t> ids;
  for (size_t i = 0; i < chars.size();) {
    if (chars.compare(i, marker.size(), marker) == 0) {
      ids.push_back(mask_id);
      i += marker.size();
      continue;
    }
    if (!vocab.contains(chars[i]))
      throw UsageError("--fill: the character " + examples::code_point_name(chars[i]) +
                       " is not in the model's vocabulary");
    ids.push_back(vocab.id(chars[i++]));
  }
  const auto length = static_cast<int64_t>(ids.size());
  if (length > model.shape().seq_len)
    throw UsageError("--fill: the text is " + std::to_string(length) + " characters long (" +
                     kMaskMarker + " counting one), longer than the model's context of " +
                     std::to_string(model.shape().seq_len));
  if (std::find(ids.begin(), ids.end(), mask_id) == ids.end())
    throw UsageError(std::string("--fill: the text has no ") + kMaskMarker + " to fill");
  lg::NoGradGuard no_grad;
  // Every [MASK] at once, as BERT predicts: the likeliest character (ids 1 .. mask_id - 1).
  const lg::Tensor logits = model(lg::from_vector(ids, {1, length}).to(device)).select(0, 0);
  const std::vector<int64_t> best =
      (lg::argmax(logits.slice(1, 1, mask_id), -1) + 1).to(lg::Device::cpu()).to_vector<int64_t>();
  std::u32string out;
  for (int64_t t = 0; t < length; ++t) {
    const int64_t id = ids[static_cast<size_t>(t)] == mask_id ? best[static_cast<size_t>(t)]
                                                              : ids[static_cast<size_t>(t)];
    out += vocab.character(id);
  }
  return examples::encode_utf8(out);
}

}  // namespace gpt
