// The vision transformer of lg-vit: a strided-convolution patch embedding, a
// class token (or mean pooling), learned position embeddings, pre-norm
// non-causal transformer blocks (LASER or softmax attention), a final
// LayerNorm and a linear head to class logits. Parameter names are those of
// the PyTorch twin in torch_vit.py, so a state dict loads there strictly.
#pragma once
#include <lasergrad/lasergrad.h>
#include <lasergrad/nn/nn.h>

#include <cstdint>
#include <string>
#include <vector>

namespace vit {

// How the tokens become one vector for the head: the class token's output
// ("cls") or the mean of the patch tokens ("mean", no class token).
enum class Pool { Cls, Mean };
Pool pool_from_string(const std::string& name);  // "cls" or "mean", else std::invalid_argument
const char* pool_name(Pool pool);

// The defaults are lg-vit's benchmark model (28x28 greyscale, 10 classes).
struct VitShape {
  int64_t image_size = 28;  // height = width
  int64_t channels = 1;
  int64_t patch = 4;  // patch side, divides image_size
  int64_t d_model = 128;
  int64_t layers = 4;
  int64_t heads = 4;      // divides d_model
  int64_t mlp_ratio = 2;  // dim_feedforward = mlp_ratio * d_model
  int64_t classes = 10;
  double dropout = 0.0;
  lg::nn::AttentionKind attention = lg::nn::AttentionKind::Laser;
  Pool pool = Pool::Cls;

  int64_t grid() const { return image_size / patch; }  // patches per side
  int64_t num_patches() const { return grid() * grid(); }
  int64_t tokens() const { return num_patches() + (pool == Pool::Cls ? 1 : 0); }
  int64_t dim_feedforward() const { return mlp_ratio * d_model; }
};

// Throws std::invalid_argument naming the first bad setting, e.g.
// "vit shape: patch 5 does not divide image_size 28".
void validate(const VitShape& shape);

class Vit : public lg::nn::Module {
 public:
  explicit Vit(const VitShape& shape);  // validates the shape first

  // images float [B, channels, image_size, image_size] -> logits [B, classes].
  // Any other input is an lg::Error naming the expected and the given shape.
  lg::Tensor forward(const lg::Tensor& images) const;
  lg::Tensor operator()(const lg::Tensor& images) const { return forward(images); }

  const VitShape& shape() const { return shape_; }

 private:
  VitShape shape_;

 public:
  lg::nn::Conv2d patch_embed;  // weight [d, C, p, p], bias [d]
  lg::Tensor cls_token;        // [1, 1, d]; undefined (not registered) with mean pool
  lg::Tensor pos_embed;        // [1, tokens, d]
  lg::nn::Dropout pos_drop;
  lg::nn::ModuleList blocks;  // lg::nn::TransformerBlock, causal = false
  lg::nn::LayerNorm norm;
  lg::nn::Linear head;
};

// AdamW's two groups as ViTs train them: {decayed, not decayed}. Weight
// decay applies to the matrices and kernels only, not to biases, LayerNorm
// parameters, the class token or the position embeddings.
struct WeightDecaySplit {
  std::vector<lg::Tensor> decay, no_decay;
};
WeightDecaySplit split_for_weight_decay(const Vit& model);

}  // namespace vit
