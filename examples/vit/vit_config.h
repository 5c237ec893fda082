// lg-vit's settings: every flag with its default. The defaults train a small
// ViT on Debian's Fashion-MNIST in about ten minutes on two cores.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/flags.h"
#include "vit_model.h"

namespace vit {

inline constexpr const char* kDefaultDataDir = "/usr/share/datasets/fashion-mnist";

struct VitConfig {
  // data
  std::string data = kDefaultDataDir;  // a folder with the four MNIST-format files
  int val_images = 5000;               // held out of the training images
  int train_images = 0;                // > 0: train on only this many (quick runs, tests)
  // random crops (padding 2) and horizontal flips: they pay off only in longer
  // runs (README), so the ten-minute default trains without
  bool augment = false;
  // model
  std::string attention = "laser";  // laser | softmax
  std::string pool = "cls";         // cls | mean
  int patch = 7;  // 16 patches of 7x7 (+ the class token)
  int d_model = 128;
  int layers = 6;
  int heads = 4;
  int mlp_ratio = 2;
  double dropout = 0.0;
  // optimisation
  int epochs = 12;
  int batch = 128;
  double lr = 2e-3;
  int warmup = 200;  // steps
  double weight_decay = 0.05;
  double label_smoothing = 0.1;
  double grad_clip = 1.0;
  double bucket_mb = 25;  // gradient buckets on several ranks
  // evaluation, checkpoints, logging
  int eval_every = 0;        // steps; 0: once per epoch
  int checkpoint_every = 0;  // 0: with every evaluation
  int log_every = 50;
  bool diagnose_gradients = false;  // gradients.jsonl/csv at log steps
  uint64_t seed = 1;
  int threads = 0;
  std::string device = "cpu";
  std::string out = "runs/vit";
  bool resume = false;
  int stop_after = 0;
  // other modes
  bool bench = false;
  bool eval_only = false;
  std::string predict;          // an image file to classify with the checkpoint in --out
  bool invert = false;          // --predict: dark object on a light background
  std::set<std::string> given;  // flags given on the command line

  // The flags a checkpoint records: what shapes the model and the data it
  // learned from, and the seed. Binds to this object's fields.
  std::vector<examples::SavedFlag> saved_flags();
  VitShape shape(int64_t image_size, int64_t classes) const;
};

}  // namespace vit
