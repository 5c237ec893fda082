// Batches for lg-speech: utterances read from the corpus, turned into
// normalised log-mel features (SpecAugment in training), padded into one
// tensor with their lengths and their CTC targets.
#pragma once
#include <lasergrad/lasergrad.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/data_loader.h"
#include "corpus.h"
#include "log_mel.h"
#include "spec_augment.h"

namespace speech {

struct SpeechBatch {
  lg::Tensor features;        // [B, T, mels] float32, zero beyond each utterance's length
  lg::Tensor lengths;         // [B] int64: frames
  lg::Tensor targets;         // [B, S] int64, zero-padded
  lg::Tensor target_lengths;  // [B] int64
  std::vector<int64_t> indices;  // into the utterance list, in batch order
};

// One utterance's features: log-mel of its samples, normalised per utterance
// (mean 0, variance 1 per mel band). `who` names the audio in the error
// thrown when it is shorter than one analysis window.
struct Features {
  std::vector<float> values;  // [frames x mels]
  int64_t frames = 0;
};
Features utterance_features(const LogMel& mel, const std::vector<float>& samples,
                            const std::string& who);

// Pads features into a batch; transcripts become the CTC targets.
SpeechBatch pad_batch(const std::vector<Features>& features,
                      const std::vector<std::string>& transcripts, int mels);

// The batches of one training epoch grouped by length, so that little of a
// batch is padding: the epoch's shuffled order (examples::epoch_order of
// (seed, epoch)) is cut into pools of `pool` batches, each pool sorted by
// duration and cut into batches of `batch`, and the batches shuffled again.
// Every utterance of the first batches * batch of the order appears once; the
// result depends on (durations, batch, pool, seed, epoch) only.
std::vector<std::vector<int64_t>> length_bucketed_batches(const std::vector<double>& durations,
                                                          int64_t batch, int64_t pool,
                                                          uint64_t seed, int64_t epoch);

struct BatchSettings {
  bool spec_augment = false;  // training only
  SpecAugmentOptions augment_options = {};
};

// The batch of request's utterances: audio read at 16 kHz, features, and in
// training SpecAugment drawn from (seed, epoch, utterance), so a resumed run
// sees the same masks.
SpeechBatch make_speech_batch(const std::vector<Utterance>& set, const LogMel& mel,
                              const examples::BatchRequest& request,
                              const BatchSettings& settings);
// The same for the utterances `indices` (in this order) of request's epoch.
SpeechBatch make_speech_batch(const std::vector<Utterance>& set, const LogMel& mel,
                              const std::vector<int64_t>& indices, uint64_t seed, int64_t epoch,
                              const BatchSettings& settings);

}  // namespace speech
