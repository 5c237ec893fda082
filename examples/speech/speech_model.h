// lg-speech's acoustic model: log-mel features -> convolutional subsampling
// (x4 in time) -> Conformer blocks (LASER or softmax attention) -> per-frame
// log-probabilities over the vocabulary (blank included) for CTC. Padded
// frames never reach valid ones: in eval mode an utterance gives the same
// output alone as inside a padded batch. Parameter names are PyTorch-like
// (subsampling.conv1.weight, conformer_layers.0.ffn1.sequential.1.weight,
// output.weight); bench/pytorch/conformer_train.py builds the same model in
// torch + torchaudio.
#pragma once
#include <lasergrad/lasergrad.h>
#include <lasergrad/nn/nn.h>

#include <cstdint>
#include <utility>

namespace speech {

struct SpeechModelConfig {
  int64_t mels = 80;
  int64_t d_model = 144;
  int64_t layers = 4;
  int64_t heads = 4;  // divides d_model
  int64_t ffn_dim = 576;
  int64_t conv_kernel = 15;  // odd
  int64_t subsampling_channels = 144;
  int64_t vocab = 0;  // output classes, the CTC blank included; must be set (>= 2)
  lg::nn::AttentionKind attention = lg::nn::AttentionKind::Laser;
  double dropout = 0.1;
};

// Throws std::invalid_argument naming the first bad setting, e.g.
// "speech model: vocab must be >= 2 (the blank and one symbol), got 0".
void validate(const SpeechModelConfig& config);

// Two Conv2d(kernel 3, stride 2, padding 1) + ReLU over (time, mel), then
// Linear(channels * ceil(mels / 4) -> d_model). Frames beyond each
// utterance's length are zeroed before each convolution's output is used.
class ConvSubsampling : public lg::nn::Module {
 public:
  ConvSubsampling(int64_t mels, int64_t channels, int64_t d_model);
  // x [B, T, mels], lengths [B] int64 -> [B, output_length(T), d_model].
  lg::Tensor forward(const lg::Tensor& x, const lg::Tensor& lengths) const;

  lg::nn::Conv2d conv1, conv2;
  lg::nn::Linear linear;
};

class SpeechModel : public lg::nn::Module {
 public:
  explicit SpeechModel(const SpeechModelConfig& config);  // validates the config first

  // features [B, T, mels] float32, lengths [B] int64 in [1, T] -> log-probs
  // [T', B, vocab] (time first, as lg::ctc_loss wants), T' = output_length(T),
  // and the output lengths [B] int64 (output_length of each length). Bad
  // shapes or lengths are lg::Errors naming the model and the shapes.
  std::pair<lg::Tensor, lg::Tensor> forward(const lg::Tensor& features, const lg::Tensor& lengths);

  // Frames after the x4 subsampling: ceil(ceil(frames / 2) / 2).
  static int64_t output_length(int64_t frames);

  const SpeechModelConfig& config() const { return config_; }

 private:
  SpeechModelConfig config_;

 public:
  ConvSubsampling subsampling;
  lg::nn::Dropout input_dropout;
  lg::nn::ModuleList conformer_layers;  // lg::nn::ConformerBlock
  lg::nn::Linear output;
};

}  // namespace speech
