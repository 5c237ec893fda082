// --eval-only and --transcribe: a trained checkpoint, no training.
#include <lasergrad/nn/checkpoint.h>

#include <cstdio>

#include "audio.h"
#include "common/run_lock.h"
#include "common/training_loop.h"
#include "modes.h"
#include "session.h"
#include "speech_batch.h"
#include "test_report.h"

namespace speech {
namespace {

struct Trained {
  std::unique_ptr<SpeechModel> model;
  int64_t step = 0;
};

// The checkpoint's model, with the flags it records (others given are refused).
// announce: say which checkpoint on stdout (--transcribe prints only the transcript).
Trained load_trained(SpeechConfig& config, const char* mode, lg::Device device, bool announce) {
  const std::string path = examples::checkpoint_path(config.out).string();
  const lg::TrainingCheckpoint checkpoint = lg::load_checkpoint(path);
  examples::restore_flags(config.saved_flags(), checkpoint.config, config.given, mode);
  Trained t{.model = make_model(config), .step = checkpoint.step};
  t.model->load_state_dict(checkpoint.model);
  t.model->to(device);
  t.model->eval();
  if (announce)
    std::printf("lg-speech: %s (%s attention, %d layers, d-model %d, step %lld)\n", path.c_str(),
                config.attention.c_str(), config.layers, config.d_model,
                static_cast<long long>(t.step));
  return t;
}

}  // namespace

int eval_only(SpeechConfig config) {
  const lg::Device device = examples::setup_runtime(config.threads, config.device);
  const examples::RunLock lock =
      examples::claim_run_folder(config.out, report_file_names(), "lg-speech");
  Trained t = load_trained(config, "--eval-only", device, true);
  const Corpus corpus = load_corpus(config);
  report_test(*t.model, corpus.test, LogMel{}, config.batch, device, config.out,
              {.attention = config.attention,
               .steps = t.step,
               .train_seconds = 0,
               .val_wer = NAN,
               .beam = config.beam,
               .worst = config.worst});
  return 0;
}

int transcribe(SpeechConfig config) {
  const lg::Device device = examples::setup_runtime(config.threads, config.device);
  Trained t = load_trained(config, "--transcribe", device, false);
  const LogMel mel;
  const std::vector<float> samples = read_audio(config.transcribe, mel.options().sample_rate);
  const Features f = utterance_features(mel, samples, config.transcribe);
  const SpeechBatch b = pad_batch({f}, {""}, mel.options().mels);
  lg::NoGradGuard no_grad;
  auto [log_probs, lengths] = t.model->forward(b.features.to(device), b.lengths.to(device));
  std::printf("%s\n", decode_batch(log_probs, lengths, config.beam).at(0).c_str());
  return 0;
}

}  // namespace speech
