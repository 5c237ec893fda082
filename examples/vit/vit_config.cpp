#include "vit_config.h"

namespace vit {

std::vector<examples::SavedFlag> VitConfig::saved_flags() {
  return {{"--attention", "vit.attention", attention},
          {"--pool", "vit.pool", pool},
          {"--patch", "vit.patch", patch},
          {"--d-model", "vit.d_model", d_model},
          {"--layers", "vit.layers", layers},
          {"--heads", "vit.heads", heads},
          {"--mlp-ratio", "vit.mlp_ratio", mlp_ratio},
          {"--dropout", "vit.dropout", dropout},
          {"--val-images", "vit.val_images", val_images},
          {"--train-images", "vit.train_images", train_images},
          {"--augment", "vit.augment", augment},
          {"--batch", "vit.batch", batch},
          {"--label-smoothing", "vit.label_smoothing", label_smoothing},
          {"--seed", "vit.seed", seed}};
}

VitShape VitConfig::shape(int64_t image_size, int64_t classes) const {
  return {.image_size = image_size,
          .channels = 1,
          .patch = patch,
          .d_model = d_model,
          .layers = layers,
          .heads = heads,
          .mlp_ratio = mlp_ratio,
          .classes = classes,
          .dropout = dropout,
          .attention = lg::nn::attention_kind_from_string(attention),
          .pool = pool_from_string(pool)};
}

}  // namespace vit
