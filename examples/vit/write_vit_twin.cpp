// Writes a small lg-vit model's state dict, a batch of images and labels, the
// model's logits (eval mode) and the gradients of its cross-entropy loss to a
// safetensors file, for torch_vit.py to load into the PyTorch twin and compare.
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include "vit_model.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: write_vit_twin OUT.safetensors laser|softmax cls|mean\n";
    return 2;
  }
  try {
    const vit::VitShape shape{.image_size = 12,
                              .channels = 2,
                              .patch = 4,
                              .d_model = 16,
                              .layers = 2,
                              .heads = 2,
                              .mlp_ratio = 3,
                              .classes = 5,
                              .dropout = 0.0,
                              .attention = lg::nn::attention_kind_from_string(argv[2]),
                              .pool = vit::pool_from_string(argv[3])};
    lg::manual_seed(11);
    vit::Vit model(shape);
    model.eval();
    {
      lg::NoGradGuard no_grad;  // non-zero biases and norms, so that a misplaced one shows
      for (auto& p : model.parameters()) p.add_(lg::randn(p.shape()) * 0.1);
    }
    const lg::Tensor images = lg::randn({3, shape.channels, shape.image_size, shape.image_size});
    const lg::Tensor labels = lg::tensor<int64_t>({0, 4, 2});
    const lg::Tensor logits = model(images);
    lg::cross_entropy(logits, labels).backward();
    lg::StateDict out = model.state_dict();
    for (const auto& [name, p] : model.named_parameters()) out["grad." + name] = p.grad();
    out["input"] = images;
    out["labels"] = labels;
    out["output"] = logits.detach();
    lg::save_safetensors(argv[1], out,
                         {{"image_size", std::to_string(shape.image_size)},
                          {"channels", std::to_string(shape.channels)},
                          {"patch", std::to_string(shape.patch)},
                          {"d_model", std::to_string(shape.d_model)},
                          {"layers", std::to_string(shape.layers)},
                          {"heads", std::to_string(shape.heads)},
                          {"mlp_ratio", std::to_string(shape.mlp_ratio)},
                          {"classes", std::to_string(shape.classes)},
                          {"attention", argv[2]},
                          {"pool", argv[3]}});
  } catch (const std::exception& e) {
    std::cerr << "write_vit_twin: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
