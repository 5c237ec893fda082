#include <cstdio>
#include <stdexcept>

#include "common/training_loop.h"
#include "modes.h"
#include "session.h"

namespace gpt {

int sample(TrainConfig config) {
  const lg::Device device = setup_runtime(config);
  const std::string path = examples::checkpoint_path(config.out).string();
  const lg::TrainingCheckpoint checkpoint = lg::load_checkpoint(path);
  config.apply_sample_metadata(checkpoint.config);  // refuses contradicting model flags
  auto vocab_entry = checkpoint.config.find("gpt.vocab");
  if (vocab_entry == checkpoint.config.end())
    throw std::runtime_error(path + ": the checkpoint has no character vocabulary (gpt.vocab)");
  const examples::CharVocab vocab = examples::CharVocab::from_string(vocab_entry->second);
  prompt_ids(vocab, config.prompt);  // before the model is built
  Gpt model(model_shape(config, vocab.size()));
  model.load_state_dict(checkpoint.model);
  model.to(device);
  model.eval();
  std::printf("lg-gpt: %s (%s attention, %d layers, d-model %d, step %lld)\n", path.c_str(),
              config.attention.c_str(), config.layers, config.d_model,
              static_cast<long long>(checkpoint.step));
  print_sample(model, vocab, config, device, config.sample);
  return 0;
}

}  // namespace gpt
