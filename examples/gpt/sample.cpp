// The modes that use a trained checkpoint without training: --sample (a
// causal LM generates) and --fill (a masked LM fills in [MASK]s).
#include <cstdio>
#include <memory>
#include <stdexcept>

#include "cli.h"
#include "common/training_loop.h"
#include "modes.h"
#include "session.h"

namespace gpt {
namespace {

struct Trained {
  int64_t step = 0;
  examples::CharVocab vocab;
  std::unique_ptr<Gpt> model;
};

// The model in --out's checkpoint, in eval mode on `device`; config takes the
// checkpoint's model settings (refusing flags that contradict them). `mode` is
// the flag ("--sample"), `objective` the one it needs.
Trained load_trained(TrainConfig& config, lg::Device device, const std::string& mode,
                     const std::string& objective, const std::string& remedy) {
  const std::string path = examples::checkpoint_path(config.out).string();
  const lg::TrainingCheckpoint checkpoint = lg::load_checkpoint(path);
  config.apply_sample_metadata(checkpoint.config, mode);  // refuses contradicting model flags
  if (config.objective != objective)
    throw UsageError(mode + ": the checkpoint in " + config.out + " is a " +
                     (config.objective == "mlm" ? "masked LM (--objective mlm)"
                                                : "causal LM (--objective clm)") +
                     ": " + remedy);
  auto vocab_entry = checkpoint.config.find("gpt.vocab");
  if (vocab_entry == checkpoint.config.end())
    throw std::runtime_error(path + ": the checkpoint has no character vocabulary (gpt.vocab)");
  Trained t{.step = checkpoint.step,
            .vocab = examples::CharVocab::from_string(vocab_entry->second),
            .model = nullptr};
  if (mode == "--sample") prompt_ids(t.vocab, config.prompt);  // before the model is built
  t.model = std::make_unique<Gpt>(model_shape(config, t.vocab.size()));
  t.model->load_state_dict(checkpoint.model);
  t.model->to(device);
  t.model->eval();
  std::printf("lg-gpt: %s (%s, %s attention, %d layers, d-model %d, step %lld)\n", path.c_str(),
              config.objective.c_str(), config.attention.c_str(), config.layers, config.d_model,
              static_cast<long long>(t.step));
  return t;
}

}  // namespace

int sample(TrainConfig config) {
  const lg::Device device = setup_runtime(config);
  const Trained t = load_trained(config, device, "--sample", "clm",
                                 "it does not generate left to right; use --fill \"text with "
                                 "[MASK]\"");
  print_sample(*t.model, t.vocab, config, device, config.sample);
  return 0;
}

int fill(TrainConfig config) {
  const lg::Device device = setup_runtime(config);
  const Trained t = load_trained(config, device, "--fill", "mlm",
                                 "use --sample, or train a model with --objective mlm");
  std::printf("%s\n", fill_masks(*t.model, t.vocab, config.fill, device).c_str());
  return 0;
}

}  // namespace gpt
