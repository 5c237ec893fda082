// What lg-speech's modes (train, --eval-only, --transcribe) share: the corpus
// as the flags ask for it, the model, what a checkpoint records besides the
// flags, and decoding a whole set into word and character error rates.
#pragma once
#include <lasergrad/lasergrad.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "corpus.h"
#include "error_rate.h"
#include "log_mel.h"
#include "speech_config.h"
#include "speech_model.h"

namespace speech {

// The corpus's seed: the data set is the same whatever --seed trains on it.
inline constexpr uint64_t kCorpusSeed = 1;

struct Corpus {
  std::vector<Utterance> train, val, test;
};
// The corpus of --data (synthesised there first when it is missing or was
// made with other settings), split, with --train-utterances applied and a
// line saying what was loaded.
Corpus load_corpus(const SpeechConfig& config);

// "fnv1a64:..." of the training utterances (transcripts, speakers, noise, durations):
// --resume checks that the corpus is the one the checkpoint trained on.
std::string training_data_hash(const std::vector<Utterance>& train);

// The model of config's flags; a shape the flags make impossible is an InputError.
std::unique_ptr<SpeechModel> make_model(const SpeechConfig& config);

struct SetScores {
  ErrorRates rates;
  double loss_sum = 0;   // CTC loss (negative log-likelihood) summed over the utterances
  double mean_loss = 0;  // ... and per utterance
  std::vector<ScoredUtterance> utterances;
};
// Decodes every utterance of set (greedy, or prefix beam search when beam >
// 1) in eval mode without gradients, batch utterances at a time.
SetScores score_set(SpeechModel& model, const std::vector<Utterance>& set, const LogMel& mel,
                    int64_t batch, int beam, lg::Device device);

// The transcripts of log-probs [T, B, V] (time first) with output lengths [B]:
// words separated by single spaces.
std::vector<std::string> decode_batch(const lg::Tensor& log_probs, const lg::Tensor& lengths,
                                      int beam);

}  // namespace speech
