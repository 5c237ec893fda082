#include "cli.h"

#include <lasergrad/lasergrad.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <string>

#include "common/files.h"
#include "common/loop_flags.h"
#include "common/training_loop.h"

namespace vit {
namespace {

using examples::number_check;

void add_data_flags(CLI::App& app, VitConfig& c) {
  const CLI::Validator non_negative = number_check(true, 0, true);
  app.add_option("--data", c.data,
                 "Folder with the four MNIST-format files (train-images-idx3-ubyte, ..., plain or "
                 ".gz), e.g. MNIST itself")
      ->capture_default_str();
  app.add_option("--val-images", c.val_images, "Training images held out for validation")
      ->check(number_check(true, 1, true))
      ->capture_default_str();
  app.add_option("--train-images", c.train_images,
                 "Train on only this many of the remaining training images (0: all)")
      ->check(non_negative)
      ->capture_default_str();
  app.add_flag("--augment,!--no-augment", c.augment,
               "Random crops (padding 2) and horizontal flips of the training images (default: off; "
               "they pay off in long runs)")
      ->capture_default_str();
}

void add_model_flags(CLI::App& app, VitConfig& c) {
  const CLI::Validator positive = number_check(true, 1, true);
  app.add_option("--attention", c.attention, "Attention: laser or softmax")
      ->check(CLI::IsMember({"laser", "softmax"}))
      ->capture_default_str();
  app.add_option("--pool", c.pool, "What the head reads: the class token (cls) or the mean token")
      ->check(CLI::IsMember({"cls", "mean"}))
      ->capture_default_str();
  app.add_option("--patch", c.patch, "Patch side in pixels (must divide the image side)")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--d-model", c.d_model, "Model width")->check(positive)->capture_default_str();
  app.add_option("--layers", c.layers, "Transformer blocks")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--heads", c.heads, "Attention heads (must divide --d-model)")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--mlp-ratio", c.mlp_ratio, "MLP width as a multiple of --d-model")
      ->check(positive)
      ->capture_default_str();
  app.add_option("--dropout", c.dropout, "Dropout probability")
      ->check(number_check(false, 0, true, 0.99))
      ->capture_default_str();
}

void add_training_flags(CLI::App& app, VitConfig& c) {
  const examples::LoopFlagWords words{.items = "images", .metric = "accuracy", .seeded_data = "augmentation"};
  examples::add_optimisation_flags(app, c, words);
  app.add_option("--label-smoothing", c.label_smoothing, "Label smoothing of the training loss")
      ->check(number_check(false, 0, true, 0.99))
      ->capture_default_str();
  examples::add_schedule_flags(app, c, words);
}

void add_run_flags(CLI::App& app, VitConfig& c) {
  examples::add_run_folder_flags(app, c);
  app.add_flag(
      "--eval-only", c.eval_only,
      "Evaluate the checkpoint in --out on the test set (report and pictures), no training");
  app.add_option("--predict", c.predict,
                 "Classify one image (PGM or PNG, resized to the model's input) with the "
                 "checkpoint in --out");
  app.add_flag("--invert", c.invert,
               "--predict: invert the image first (for a dark object on a light background; "
               "Fashion-MNIST objects are light on black)");
  app.add_flag("--bench", c.bench,
               "Time training steps of a fixed model (patch 4, d-model 128, 4 layers, 4 heads, MLP "
               "ratio 2, batch 128) and inference, one JSON line");
}

// The checkpoint the modes read: it must exist and be a regular file.
std::string checkpoint_problem(const VitConfig& c) {
  const char* mode = c.resume ? "--resume" : c.eval_only ? "--eval-only" : "--predict";
  const std::filesystem::path ckpt = examples::checkpoint_path(c.out);
  std::error_code ec;
  if (!std::filesystem::exists(ckpt, ec))
    return std::string(mode) + ": no checkpoint in --out " + c.out + " (expected " + ckpt.string() +
           ")";
  return examples::input_file_problem(mode, ckpt);
}

// The checks CLI11's per-flag validators cannot make; empty when all pass.
std::string check_flags(const VitConfig& c) {
  const int modes = int{c.resume} + int{c.eval_only} + int{!c.predict.empty()} + int{c.bench};
  if (modes > 1) return "--resume, --eval-only, --predict and --bench exclude each other";
  if (c.invert && c.predict.empty()) return "--invert needs --predict";
  if (!c.predict.empty())
    if (std::string p = examples::input_file_problem("--predict", c.predict); !p.empty()) return p;
  if (c.resume || c.eval_only || !c.predict.empty())
    if (std::string p = checkpoint_problem(c); !p.empty()) return p;
  if (c.d_model % c.heads != 0)
    return "--d-model " + std::to_string(c.d_model) + " is not divisible by --heads " +
           std::to_string(c.heads);
  if (c.device == "cuda" && !lg::cuda_is_available())
    return "--device cuda: no usable CUDA device (or this build has no CUDA backend)";
  return {};
}

}  // namespace

std::optional<int> parse_command_line(int argc, const char* const* argv, VitConfig& config,
                                      std::ostream& out, std::ostream& err) {
  CLI::App app{
      "lg-vit: train a Vision Transformer on Fashion-MNIST (or any MNIST-format data) with LASER "
      "or softmax attention, then report its test accuracy"};
  app.name("lg-vit");
  add_data_flags(app, config);
  add_model_flags(app, config);
  add_training_flags(app, config);
  add_run_flags(app, config);
  return examples::parse_flags(
      app, argc, argv, config.given, [&] { return check_flags(config); }, out, err);
}

}  // namespace vit
