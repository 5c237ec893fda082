#include "vit_model.h"

#include <cmath>
#include <stdexcept>

namespace vit {
namespace {

// Bounds that keep every derived size (tokens, dim_feedforward, parameter
// counts) far from int64 overflow; far above any model lg-vit trains.
constexpr int64_t kMaxSize = 1 << 16;
constexpr int64_t kMaxMlpRatio = 64;

[[noreturn]] void bad(const std::string& what) {
  throw std::invalid_argument("vit shape: " + what);
}

void check_range(const char* name, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi)
    bad(std::string(name) + " must lie in [" + std::to_string(lo) + ", " + std::to_string(hi) +
        "], got " + std::to_string(value));
}

const VitShape& validated(const VitShape& shape) {
  validate(shape);
  return shape;
}

}  // namespace

Pool pool_from_string(const std::string& name) {
  if (name == "cls") return Pool::Cls;
  if (name == "mean") return Pool::Mean;
  throw std::invalid_argument("pool must be cls or mean, got '" + name + "'");
}

const char* pool_name(Pool pool) { return pool == Pool::Cls ? "cls" : "mean"; }

void validate(const VitShape& s) {
  check_range("image_size", s.image_size, 1, kMaxSize);
  check_range("channels", s.channels, 1, kMaxSize);
  check_range("patch", s.patch, 1, s.image_size);
  if (s.image_size % s.patch != 0)
    bad("patch " + std::to_string(s.patch) + " does not divide image_size " +
        std::to_string(s.image_size));
  check_range("d_model", s.d_model, 1, kMaxSize);
  check_range("layers", s.layers, 1, kMaxSize);
  check_range("heads", s.heads, 1, s.d_model);
  if (s.d_model % s.heads != 0)
    bad("heads " + std::to_string(s.heads) + " does not divide d_model " +
        std::to_string(s.d_model));
  check_range("mlp_ratio", s.mlp_ratio, 1, kMaxMlpRatio);
  check_range("classes", s.classes, 2, kMaxSize);
  if (!(s.dropout >= 0.0 && s.dropout < 1.0))
    bad("dropout must lie in [0, 1), got " + std::to_string(s.dropout));
  if (s.pool != Pool::Cls && s.pool != Pool::Mean) bad("pool must be cls or mean");
  if (s.attention != lg::nn::AttentionKind::Laser && s.attention != lg::nn::AttentionKind::Softmax)
    bad("attention must be laser or softmax");
}

Vit::Vit(const VitShape& shape)
    : shape_(validated(shape)),
      patch_embed(shape.channels, shape.d_model, {shape.patch, shape.patch},
                  lg::Conv2dOptions{.stride = {shape.patch, shape.patch}}),
      pos_drop(shape.dropout),
      norm(shape.d_model),
      head(shape.d_model, shape.classes) {
  const int64_t d = shape.d_model;
  register_module("patch_embed", patch_embed);
  if (shape.pool == Pool::Cls) {
    cls_token = lg::zeros({1, 1, d});
    register_parameter("cls_token", cls_token);
  }
  pos_embed = lg::zeros({1, shape.tokens(), d});
  register_parameter("pos_embed", pos_embed);
  register_module("pos_drop", pos_drop);
  register_module("blocks", blocks);
  for (int64_t i = 0; i < shape.layers; ++i)
    blocks.emplace_back<lg::nn::TransformerBlock>(
        d, shape.heads,
        lg::nn::TransformerBlockOptions{.attention = shape.attention,
                                        .causal = false,
                                        .dropout = shape.dropout,
                                        .dim_feedforward = shape.dim_feedforward()});
  register_module("norm", norm);
  register_module("head", head);
  // Small ViTs' initialisation: N(0, 0.02) for the class token, the position
  // embeddings and every linear map (the attention's in_proj included), zero
  // biases; the patch embedding keeps Conv2d's default, LayerNorm ones/zeros.
  if (cls_token.defined()) lg::nn::init::normal_(cls_token, 0.0, 0.02);
  lg::nn::init::normal_(pos_embed, 0.0, 0.02);
  auto linear_init = [](lg::Tensor& weight, lg::Tensor& bias) {
    lg::nn::init::normal_(weight, 0.0, 0.02);
    if (bias.defined()) lg::nn::init::zeros_(bias);
  };
  for (size_t i = 0; i < blocks.size(); ++i) {
    auto& block = blocks.at<lg::nn::TransformerBlock>(i);
    linear_init(block.self_attn.in_proj_weight, block.self_attn.in_proj_bias);
    linear_init(block.self_attn.out_proj.weight, block.self_attn.out_proj.bias);
    linear_init(block.linear1.weight, block.linear1.bias);
    linear_init(block.linear2.weight, block.linear2.bias);
  }
  linear_init(head.weight, head.bias);
}

lg::Tensor Vit::forward(const lg::Tensor& images) const {
  const int64_t c = shape_.channels, s = shape_.image_size, d = shape_.d_model;
  LG_CHECK(images.defined() && images.dim() == 4 && images.size(0) > 0 && images.size(1) == c &&
               images.size(2) == s && images.size(3) == s && images.dtype() == pos_embed.dtype(),
           "Vit: expected images ", lg::dtype_name(pos_embed.dtype()), "[B, ", c, ", ", s, ", ", s,
           "] with B >= 1, got ", images.defined() ? images.describe() : std::string("undefined"));
  const int64_t b = images.size(0);
  // [B, d, grid, grid] -> [B, N, d]: one token per patch, in row-major order.
  lg::Tensor x = patch_embed(images).flatten(2).transpose(1, 2);
  if (cls_token.defined()) x = lg::cat({cls_token.expand({b, 1, d}), x}, 1);
  x = pos_drop(x + pos_embed);
  for (size_t i = 0; i < blocks.size(); ++i) x = blocks.at<lg::nn::TransformerBlock>(i)(x);
  x = norm(x);
  x = shape_.pool == Pool::Cls ? x.select(1, 0) : x.mean(1);
  return head(x);
}

WeightDecaySplit split_for_weight_decay(const Vit& model) {
  WeightDecaySplit split;
  for (const auto& [name, p] : model.named_parameters()) {
    const bool embedding = name == "cls_token" || name == "pos_embed";
    (p.dim() >= 2 && !embedding ? split.decay : split.no_decay).push_back(p);
  }
  return split;
}

}  // namespace vit
