// lg-speech: trains a Conformer with CTC (LASER or softmax attention) on spoken
// digit strings synthesised with espeak-ng, reports its word error rate on
// voices it never heard, and transcribes recordings with the result. See
// lg-speech --help.
#include <cstdio>
#include <exception>
#include <iostream>

#include "bench.h"
#include "cli.h"
#include "common/ranks.h"
#include "common/run_lock.h"
#include "modes.h"

namespace speech {

int bench(const SpeechConfig& config) {
  return run_speech_bench(lg::nn::attention_kind_from_string(config.attention), config.threads,
                          stdout,
                          config.device == "cuda" ? lg::Device::cuda(0) : lg::Device::cpu());
}

}  // namespace speech

int main(int argc, char** argv) {
  examples::join_ranks();  // one rank of several under mpirun
  speech::SpeechConfig config;
  if (std::optional<int> status =
          speech::parse_command_line(argc, argv, config, std::cout, std::cerr))
    return *status;
  try {
    // Under mpirun only training is shared out; the other modes run on rank 0.
    if (examples::rank() != 0 &&
        (config.bench || config.prepare_only || config.eval_only || !config.transcribe.empty()))
      return 0;
    if (config.bench) return speech::bench(config);
    if (config.prepare_only) return speech::prepare_only(config);
    if (config.eval_only) return speech::eval_only(config);
    if (!config.transcribe.empty()) return speech::transcribe(config);
    return speech::train(config);
  } catch (const std::exception& e) {
    // Unusable inputs exit as a flag error does; anything else is a failure.
    return examples::exit_after_error(
        "lg-speech", e.what(),
        dynamic_cast<const examples::InputError*>(&e) != nullptr ? examples::kUsageExitCode : 1);
  }
}
