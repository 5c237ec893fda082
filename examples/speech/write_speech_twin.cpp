// Writes a small lg-speech model's state dict, a padded batch of features
// with its lengths and the model's log-probs (eval mode) to a safetensors
// file, for torch_speech.py to load into the PyTorch twin and compare.
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include "speech_model.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: write_speech_twin OUT.safetensors laser|softmax\n";
    return 2;
  }
  try {
    const speech::SpeechModelConfig config{.mels = 10,
                                           .d_model = 8,
                                           .layers = 2,
                                           .heads = 2,
                                           .ffn_dim = 16,
                                           .conv_kernel = 3,
                                           .subsampling_channels = 4,
                                           .vocab = 5,
                                           .attention = lg::nn::attention_kind_from_string(argv[2]),
                                           .dropout = 0.1};
    lg::manual_seed(12);
    speech::SpeechModel model(config);
    {
      lg::NoGradGuard
          no_grad;  // non-zero biases, norms and statistics, so that a misplaced one shows
      for (auto& p : model.parameters()) p.add_(lg::randn(p.shape()) * 0.1);
      for (auto& [name, b] : model.named_buffers()) {
        if (name.ends_with("running_mean")) b.copy_(lg::randn(b.shape()) * 0.2);
        if (name.ends_with("running_var")) b.copy_(lg::rand(b.shape()) + 0.5);
      }
    }
    model.eval();
    const lg::Tensor lengths = lg::tensor<int64_t>({13, 9, 5});
    // The padded frames hold garbage: lasergrad's output must not depend on it.
    const lg::Tensor features = lg::randn({3, 13, config.mels}) * 3.0;
    auto [log_probs, out_lengths] = model.forward(features, lengths);
    lg::StateDict out = model.state_dict();
    out["input"] = features;
    out["lengths"] = lengths;
    out["output"] = log_probs.detach().contiguous();
    out["output_lengths"] = out_lengths;
    lg::save_safetensors(argv[1], out,
                         {{"mels", std::to_string(config.mels)},
                          {"d_model", std::to_string(config.d_model)},
                          {"layers", std::to_string(config.layers)},
                          {"heads", std::to_string(config.heads)},
                          {"ffn_dim", std::to_string(config.ffn_dim)},
                          {"conv_kernel", std::to_string(config.conv_kernel)},
                          {"subsampling_channels", std::to_string(config.subsampling_channels)},
                          {"vocab", std::to_string(config.vocab)},
                          {"attention", argv[2]}});
  } catch (const std::exception& e) {
    std::cerr << "write_speech_twin: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
