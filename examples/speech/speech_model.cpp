#include "speech_model.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace speech {
namespace {

using lg::Tensor;

// Checks the config before any layer is built; returns it.
const SpeechModelConfig& checked(const SpeechModelConfig& c) {
  validate(c);
  return c;
}

std::string describe(const Tensor& t) { return t.defined() ? t.describe() : "undefined"; }

// [B, T] bool, true at the frames from lengths[b] on.
Tensor padding_mask(const std::vector<int64_t>& lengths, int64_t frames) {
  Tensor lens = lg::from_vector(lengths).unsqueeze(1);
  return lg::ge(lg::arange(0, frames, 1, {.dtype = lg::kInt64}).unsqueeze(0), lens);
}

std::vector<int64_t> subsampled(const std::vector<int64_t>& lengths) {
  std::vector<int64_t> out;
  for (int64_t len : lengths) out.push_back((len + 1) / 2);
  return out;
}

// x [B, C, T, F] with the frames from lengths[b] on set to 0.
Tensor zero_padded_frames(const Tensor& x, const std::vector<int64_t>& lengths) {
  Tensor pad = padding_mask(lengths, x.size(2)).to(x.device());
  return lg::masked_fill(x, pad.unsqueeze(1).unsqueeze(3), 0.0);
}

}  // namespace

void validate(const SpeechModelConfig& c) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("speech model: " + what); };
  auto positive = [&](int64_t v, const char* name) {
    if (v < 1) fail(std::string(name) + " must be >= 1, got " + std::to_string(v));
  };
  positive(c.mels, "mels");
  positive(c.d_model, "d_model");
  positive(c.layers, "layers");
  positive(c.heads, "heads");
  positive(c.ffn_dim, "ffn_dim");
  positive(c.subsampling_channels, "subsampling_channels");
  if (c.d_model % c.heads != 0)
    fail("heads " + std::to_string(c.heads) + " does not divide d_model " +
         std::to_string(c.d_model));
  if (c.conv_kernel < 1 || c.conv_kernel % 2 == 0)
    fail("conv_kernel must be odd and >= 1, got " + std::to_string(c.conv_kernel));
  if (c.vocab < 2)
    fail("vocab must be >= 2 (the blank and one symbol), got " + std::to_string(c.vocab));
  if (!(c.dropout >= 0 && c.dropout < 1))
    fail("dropout must lie in [0, 1), got " + std::to_string(c.dropout));
}

ConvSubsampling::ConvSubsampling(int64_t mels, int64_t channels, int64_t d_model)
    : conv1(1, channels, {3, 3}, {.stride = {2, 2}, .padding = {1, 1}}),
      conv2(channels, channels, {3, 3}, {.stride = {2, 2}, .padding = {1, 1}}),
      linear(channels * ((mels + 3) / 4), d_model) {
  register_module("conv1", conv1);
  register_module("conv2", conv2);
  register_module("linear", linear);
}

Tensor ConvSubsampling::forward(const Tensor& x, const Tensor& lengths) const {
  std::vector<int64_t> lens = lengths.to_vector<int64_t>();
  Tensor h = zero_padded_frames(x.unsqueeze(1), lens);  // [B, 1, T, mels]
  lens = subsampled(lens);
  h = zero_padded_frames(lg::relu(conv1(h)), lens);
  lens = subsampled(lens);
  h = zero_padded_frames(lg::relu(conv2(h)), lens);  // [B, C, T/4, mels/4]
  const int64_t b = h.size(0), t = h.size(2);
  return linear(h.permute({0, 2, 1, 3}).reshape({b, t, h.size(1) * h.size(3)}));
}

SpeechModel::SpeechModel(const SpeechModelConfig& config)
    : config_(checked(config)),
      subsampling(config.mels, config.subsampling_channels, config.d_model),
      input_dropout(config.dropout),
      output(config.d_model, config.vocab) {
  register_module("subsampling", subsampling);
  register_module("input_dropout", input_dropout);
  for (int64_t i = 0; i < config.layers; ++i)
    conformer_layers.emplace_back<lg::nn::ConformerBlock>(
        config.d_model, config.heads, config.ffn_dim, config.conv_kernel,
        lg::nn::ConformerBlockOptions{.attention = config.attention, .dropout = config.dropout});
  register_module("conformer_layers", conformer_layers);
  register_module("output", output);
}

int64_t SpeechModel::output_length(int64_t frames) { return ((frames + 1) / 2 + 1) / 2; }

std::pair<Tensor, Tensor> SpeechModel::forward(const Tensor& features, const Tensor& lengths) {
  LG_CHECK(features.defined() && features.dim() == 3 && features.size(2) == config_.mels &&
               lg::is_floating(features.dtype()) && features.size(1) >= 1,
           "speech::SpeechModel: expected features [B, T, ", config_.mels, "] floating, got ",
           describe(features));
  LG_CHECK(lengths.defined() && lengths.dtype() == lg::kInt64 && lengths.dim() == 1 &&
               lengths.size(0) == features.size(0),
           "speech::SpeechModel: expected lengths int64[", features.size(0), "] for features ",
           features.describe(), ", got ", describe(lengths));
  const int64_t frames = features.size(1);
  std::vector<int64_t> out_lengths;
  for (int64_t len : lengths.to_vector<int64_t>()) {
    LG_CHECK(len >= 1 && len <= frames, "speech::SpeechModel: a length ", len, " lies outside [1, ",
             frames, "] for features ", features.describe());
    out_lengths.push_back(output_length(len));
  }
  Tensor h = input_dropout(subsampling.forward(features, lengths.to(lg::Device::cpu())));
  Tensor pad = padding_mask(out_lengths, h.size(1)).to(h.device());
  for (size_t i = 0; i < conformer_layers.size(); ++i)
    h = conformer_layers.at<lg::nn::ConformerBlock>(i)(h, pad);
  Tensor log_probs = lg::log_softmax(output(h), -1).transpose(0, 1);  // [T', B, vocab]
  return {log_probs, lg::from_vector(out_lengths).to(features.device())};
}

}  // namespace speech
