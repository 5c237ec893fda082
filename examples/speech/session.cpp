#include "session.h"

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "common/data_loader.h"
#include "common/files.h"
#include "common/run_lock.h"
#include "ctc_decode.h"
#include "speech_batch.h"
#include "vocabulary.h"

namespace speech {

Corpus load_corpus(const SpeechConfig& config) {
  CorpusOptions options;
  options.dir = config.data;
  options.utterances = config.utterances;
  options.seed = kCorpusSeed;
  options.threads = config.prepare_threads;
  const std::vector<Utterance> all = prepare_corpus(options);
  Corpus c{select(all, Split::Train), select(all, Split::Validation), select(all, Split::Test)};
  if (config.train_utterances > 0 && static_cast<size_t>(config.train_utterances) < c.train.size())
    c.train.resize(static_cast<size_t>(config.train_utterances));
  if (c.train.empty() || c.val.empty() || c.test.empty())
    throw examples::InputError("--data " + config.data + ": " + std::to_string(c.train.size()) +
                               " training, " + std::to_string(c.val.size()) + " validation and " +
                               std::to_string(c.test.size()) +
                               " test utterances; each split needs some (raise --utterances)");
  double seconds = 0;
  for (const Utterance& u : c.train) seconds += u.duration_s;
  std::printf("lg-speech: %s: %zu training (%.1f min of audio), %zu validation, %zu test utterances\n",
              config.data.c_str(), c.train.size(), seconds / 60, c.val.size(), c.test.size());
  return c;
}

std::string training_data_hash(const std::vector<Utterance>& train) {
  // What each utterance is, not where its folder lies (a moved corpus still resumes).
  std::string bytes;
  char numbers[96];
  for (const Utterance& u : train) {
    std::snprintf(numbers, sizeof numbers, "%d\t%d\t%s\t%.6g\t%.6f", u.speed, u.pitch,
                  noise_name(u.noise).c_str(), u.snr_db, u.duration_s);
    bytes += u.transcript + '\t' + u.voice + '\t' + u.variant + '\t' + numbers + '\n';
  }
  return examples::fnv1a64_hex(bytes);
}

std::unique_ptr<SpeechModel> make_model(const SpeechConfig& config) {
  try {
    return std::make_unique<SpeechModel>(config.model_config(vocabulary_size()));
  } catch (const std::invalid_argument& e) {
    throw examples::InputError(e.what());
  } catch (const lg::Error& e) {
    throw examples::InputError(e.what());
  }
}

std::vector<std::string> decode_batch(const lg::Tensor& log_probs, const lg::Tensor& lengths,
                                      int beam) {
  // [T, B, V] -> [B, T, V] contiguous on the CPU, so each utterance is one block.
  const lg::Tensor by_utterance =
      log_probs.transpose(0, 1).contiguous().to(lg::Device::cpu()).to(lg::kFloat32);
  const std::vector<float> values = by_utterance.to_vector<float>();
  const std::vector<int64_t> frames = lengths.to(lg::Device::cpu()).to_vector<int64_t>();
  const int64_t t_max = by_utterance.size(1), v = by_utterance.size(2);
  std::vector<std::string> texts;
  for (size_t b = 0; b < frames.size(); ++b) {
    const float* p = values.data() + static_cast<int64_t>(b) * t_max * v;
    const std::vector<int> ids = beam > 1 ? ctc_prefix_beam_search(p, frames[b], v, kBlank, beam)
                                          : ctc_greedy(p, frames[b], v, kBlank);
    // Words separated by single spaces (a model may emit spaces at the ends or twice).
    std::string text;
    for (const std::string& w : words(decode_ids(ids))) text += (text.empty() ? "" : " ") + w;
    texts.push_back(text);
  }
  return texts;
}

namespace {

// "test/119.wav": the utterance's split folder and file, for tables.
std::string short_id(const std::string& path) {
  const std::filesystem::path p(path);
  return (p.parent_path().filename() / p.filename()).string();
}

}  // namespace

SetScores score_set(SpeechModel& model, const std::vector<Utterance>& set, const LogMel& mel,
                    int64_t batch, int beam, lg::Device device) {
  lg::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const examples::LoaderOptions order{.num_samples = static_cast<int64_t>(set.size()),
                                      .batch_size = batch,
                                      .seed = 0,
                                      .shuffle = false,
                                      .drop_last = false,
                                      .start_step = 0,
                                      .stop_step = std::nullopt};
  SetScores out;
  for (int64_t step = 0; step < examples::steps_per_epoch(order); ++step) {
    const SpeechBatch b = make_speech_batch(set, mel, examples::batch_request(order, step), {});
    // The lengths stay on the CPU, where the model reads them.
    auto [log_probs, lengths] = model.forward(b.features.to(device), b.lengths);
    out.loss_sum += lg::ctc_loss(log_probs, b.targets.to(device), lengths, b.target_lengths.to(device),
                             {.blank = kBlank, .reduction = lg::Reduction::Sum, .zero_infinity = true})
                    .item<double>();
    const std::vector<std::string> hyps = decode_batch(log_probs, lengths, beam);
    for (size_t i = 0; i < hyps.size(); ++i) {
      const Utterance& u = set[static_cast<size_t>(b.indices[i])];
      out.rates.add(u.transcript, hyps[i]);
      out.utterances.push_back({.id = short_id(u.path),
                                .ref = u.transcript,
                                .hyp = hyps[i],
                                .word_edits = edit_distance(words(u.transcript), words(hyps[i]))});
    }
  }
  out.mean_loss = set.empty() ? 0.0 : out.loss_sum / static_cast<double>(set.size());
  model.train(was_training);
  return out;
}

}  // namespace speech
