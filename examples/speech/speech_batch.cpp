#include "speech_batch.h"

#include <algorithm>
#include <stdexcept>

#include "audio.h"
#include "common/run_lock.h"
#include "vocabulary.h"

namespace speech {

Features utterance_features(const LogMel& mel, const std::vector<float>& samples,
                            const std::string& who) {
  Features f;
  f.values = mel.compute(samples, &f.frames);
  const MelOptions& o = mel.options();
  if (f.frames < 1)
    throw examples::InputError(who + ": " + std::to_string(samples.size()) +
                               " samples, shorter than one " + std::to_string(o.window) +
                               "-sample analysis window");
  normalize_per_utterance(f.values, f.frames, o.mels);
  return f;
}

SpeechBatch pad_batch(const std::vector<Features>& features,
                      const std::vector<std::string>& transcripts, int mels) {
  if (features.size() != transcripts.size() || features.empty())
    throw std::invalid_argument("pad_batch: " + std::to_string(features.size()) + " features, " +
                                std::to_string(transcripts.size()) + " transcripts");
  const auto b = static_cast<int64_t>(features.size());
  int64_t max_frames = 0;
  for (const Features& f : features) max_frames = std::max(max_frames, f.frames);
  std::vector<std::vector<int64_t>> ids;
  size_t max_ids = 1;
  for (const std::string& t : transcripts) {
    ids.push_back(encode_transcript(t));
    max_ids = std::max(max_ids, ids.back().size());
  }
  std::vector<float> values(static_cast<size_t>(b * max_frames * mels), 0.0f);
  std::vector<int64_t> lengths, targets(static_cast<size_t>(b) * max_ids, 0), target_lengths;
  for (size_t i = 0; i < features.size(); ++i) {
    std::copy(features[i].values.begin(), features[i].values.end(),
              values.begin() + static_cast<std::ptrdiff_t>(i * static_cast<size_t>(max_frames * mels)));
    lengths.push_back(features[i].frames);
    std::copy(ids[i].begin(), ids[i].end(), targets.begin() + static_cast<std::ptrdiff_t>(i * max_ids));
    target_lengths.push_back(static_cast<int64_t>(ids[i].size()));
  }
  SpeechBatch batch;
  batch.features = lg::from_vector(values, {b, max_frames, mels});
  batch.lengths = lg::from_vector(lengths, {b});
  batch.targets = lg::from_vector(targets, {b, static_cast<int64_t>(max_ids)});
  batch.target_lengths = lg::from_vector(target_lengths, {b});
  return batch;
}

std::vector<std::vector<int64_t>> length_bucketed_batches(const std::vector<double>& durations,
                                                          int64_t batch, int64_t pool,
                                                          uint64_t seed, int64_t epoch) {
  if (batch < 1 || pool < 1)
    throw std::invalid_argument("length_bucketed_batches: batch " + std::to_string(batch) +
                                " and pool " + std::to_string(pool) + " must be positive");
  const auto n = static_cast<int64_t>(durations.size());
  const std::vector<int64_t> order = examples::epoch_order(n, seed, epoch, true);
  const int64_t batches = n / batch;
  std::vector<std::vector<int64_t>> out;
  for (int64_t first = 0; first < batches; first += pool) {
    const int64_t count = std::min(pool, batches - first);
    std::vector<int64_t> members(order.begin() + first * batch,
                                 order.begin() + (first + count) * batch);
    std::stable_sort(members.begin(), members.end(), [&](int64_t a, int64_t b) {
      return durations[static_cast<size_t>(a)] < durations[static_cast<size_t>(b)];
    });
    for (int64_t k = 0; k < count; ++k)
      out.emplace_back(members.begin() + k * batch, members.begin() + (k + 1) * batch);
  }
  // Long and short batches take turns over the epoch.
  const std::vector<int64_t> shuffle =
      examples::epoch_order(batches, examples::mix_key({seed, 0x6275636bu}), epoch, true);
  std::vector<std::vector<int64_t>> shuffled;
  for (int64_t i : shuffle) shuffled.push_back(std::move(out[static_cast<size_t>(i)]));
  return shuffled;
}

SpeechBatch make_speech_batch(const std::vector<Utterance>& set, const LogMel& mel,
                              const examples::BatchRequest& request,
                              const BatchSettings& settings) {
  return make_speech_batch(set, mel, request.sample_indices, request.seed, request.epoch,
                           settings);
}

SpeechBatch make_speech_batch(const std::vector<Utterance>& set, const LogMel& mel,
                              const std::vector<int64_t>& indices, uint64_t seed, int64_t epoch,
                              const BatchSettings& settings) {
  std::vector<Features> features;
  std::vector<std::string> transcripts;
  const int mels = mel.options().mels;
  for (int64_t index : indices) {
    const Utterance& u = set.at(static_cast<size_t>(index));
    Features f = utterance_features(mel, read_audio(u.path, mel.options().sample_rate), u.path);
    if (settings.spec_augment)
      spec_augment(f.values, f.frames, mels,
                   examples::mix_key({seed, static_cast<uint64_t>(epoch),
                                      static_cast<uint64_t>(index)}),
                   settings.augment_options);
    features.push_back(std::move(f));
    transcripts.push_back(u.transcript);
  }
  SpeechBatch batch = pad_batch(features, transcripts, mels);
  batch.indices = indices;
  return batch;
}

}  // namespace speech
