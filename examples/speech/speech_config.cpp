#include "speech_config.h"

namespace speech {

std::vector<examples::SavedFlag> SpeechConfig::saved_flags() {
  return {{"--attention", "speech.attention", attention},
          {"--d-model", "speech.d_model", d_model},
          {"--layers", "speech.layers", layers},
          {"--heads", "speech.heads", heads},
          {"--ffn-dim", "speech.ffn_dim", ffn_dim},
          {"--conv-kernel", "speech.conv_kernel", conv_kernel},
          {"--subsampling-channels", "speech.subsampling_channels", subsampling_channels},
          {"--dropout", "speech.dropout", dropout},
          {"--utterances", "speech.utterances", utterances},
          {"--train-utterances", "speech.train_utterances", train_utterances},
          {"--spec-augment", "speech.spec_augment", spec_augment},
          {"--batch", "speech.batch", batch},
          {"--seed", "speech.seed", seed}};
}

SpeechModelConfig SpeechConfig::model_config(int64_t vocab) const {
  SpeechModelConfig m;
  m.d_model = d_model;
  m.layers = layers;
  m.heads = heads;
  m.ffn_dim = ffn_dim;
  m.conv_kernel = conv_kernel;
  m.subsampling_channels = subsampling_channels;
  m.vocab = vocab;
  m.attention = lg::nn::attention_kind_from_string(attention);
  m.dropout = dropout;
  return m;
}

}  // namespace speech
