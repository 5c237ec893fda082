// lg-vit: trains a Vision Transformer (LASER or softmax attention) on
// Fashion-MNIST or any MNIST-format data, reports its test accuracy, and
// classifies images with the result. See lg-vit --help.
#include <cstdio>
#include <exception>
#include <iostream>

#include "bench.h"
#include "cli.h"
#include "common/ranks.h"
#include "common/run_lock.h"
#include "modes.h"

namespace vit {

int bench(const VitConfig& config) {
  VitBenchOptions options;
  options.shape.attention = lg::nn::attention_kind_from_string(config.attention);
  options.threads = config.threads;
  options.device = config.device == "cuda" ? lg::Device::cuda(0) : lg::Device::cpu();
  return run_vit_bench(options);
}

}  // namespace vit

int main(int argc, char** argv) {
  examples::join_ranks();  // one rank of several under mpirun
  vit::VitConfig config;
  if (std::optional<int> status = vit::parse_command_line(argc, argv, config, std::cout, std::cerr))
    return *status;
  try {
    // Under mpirun only training is shared out; the other modes run on rank 0.
    if (examples::rank() != 0 && (config.bench || config.eval_only || !config.predict.empty()))
      return 0;
    if (config.bench) return vit::bench(config);
    if (config.eval_only) return vit::eval_only(config);
    if (!config.predict.empty()) return vit::predict(config);
    return vit::train(config);
  } catch (const std::exception& e) {
    // Unusable inputs exit as a flag error does; anything else is a failure.
    return examples::exit_after_error(
        "lg-vit", e.what(),
        dynamic_cast<const examples::InputError*>(&e) != nullptr ? examples::kUsageExitCode : 1);
  }
}
