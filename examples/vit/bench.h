// lg-vit's benchmark (issue #11): the fixed ViT trained with AdamW on
// synthetic batches (random images and labels, no data set needed) for a few
// steps after warm-up, then timed in inference; prints one JSON line that
// compares with bench/pytorch/vit_train.py's.
#pragma once
#include <lasergrad/lasergrad.h>

#include <cstdint>
#include <iostream>

#include "vit_model.h"

namespace vit {

struct VitBenchOptions {
  // The benchmark model is VitShape's defaults (patch 4, d_model 128, 4
  // layers, 4 heads, MLP ratio 2, 28x28x1, 10 classes); set
  // shape.attention for LASER or softmax. Tests use a tiny shape.
  VitShape shape;
  int threads = 0;  // CPU threads, 0: all cores
  int warmup_steps = 3;
  int steps = 10;  // timed training steps, and timed inference batches
  int64_t batch = 128;
  uint64_t seed = 1234;
  lg::Device device = lg::Device::cpu();
};

// Runs the benchmark and writes one JSON line to `out`:
// {"bench":"train_vit","framework":"lasergrad","attention":..,"pool":..,"device":..,"threads":..,
//  "batch":..,"median_step_ms":..,"images_per_s":..,"seconds_per_epoch":..,
//  "inference_images_per_s":..,"peak_rss_mb":..,"params":..}
// seconds_per_epoch: 55000 training images (MNIST's 60000 less 5000 held out)
// at the median step. Returns 0; bad options throw std::invalid_argument.
int run_vit_bench(const VitBenchOptions& options, std::ostream& out = std::cout);

}  // namespace vit
