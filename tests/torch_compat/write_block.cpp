// Writes a lasergrad TransformerBlock's state dict, an input and the block's
// output (causal softmax attention, eval mode) to a safetensors file, for
// check_block.py to load into torch.nn.TransformerEncoderLayer and compare.
#include <lasergrad/lasergrad.h>

#include <iostream>

using namespace lg;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: write_block OUT.safetensors\n";
    return 2;
  }
  manual_seed(31);
  nn::TransformerBlock block(16, 2, {.causal = true, .dim_feedforward = 48});
  // Eval mode and dropout 0: in training the two sides drop different things
  // (PyTorch attention weights, lasergrad the attention output; check_block.py).
  block.eval();
  {
    NoGradGuard no_grad;  // non-zero biases, so that a misplaced one shows
    for (auto& p : block.parameters()) p.add_(randn(p.shape()) * 0.1);
  }
  Tensor x = randn({2, 5, 16});
  StateDict out = block.state_dict();
  out["input"] = x;
  out["output"] = block(x).detach();
  save_safetensors(argv[1], out, {{"d_model", "16"}, {"nhead", "2"}, {"dim_feedforward", "48"}});
  return 0;
}
