// Character-level text data for lg-gpt: the text (any UTF-8 file, or the King
// James Bible from Debian's bible-kjv, cached), a train/validation split, and
// batches of windows as int64 tensors: reproducible random ones for training,
// fixed ones for validation.
#pragma once
#include <lasergrad/lasergrad.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../common/char_vocab.h"

namespace gpt {

// Where the text came from, for the log.
struct Text {
  std::string utf8;
  std::string source;
};

// The bytes of a text file (--data): a regular file of at most max_bytes
// (--max-data-bytes) bytes.
Text read_text_file(const std::string& path, uint64_t max_bytes);
// The King James Bible as `bible -l79 "gen1:1-rev22:21"` prints it, run once
// and cached in examples::cache_dir()/kjv.txt. Throws naming the bible-kjv
// package and scripts/install-deps.sh --examples when `bible` is missing.
Text king_james_bible();

struct Batch {
  lg::Tensor inputs;   // int64 [B, T]
  lg::Tensor targets;  // int64 [B, T]: inputs shifted left by one
};

class TextDataset {
 public:
  static constexpr int64_t kValidationDivisor = 10;  // the last tenth validates

  // Decodes utf8 (strictly: invalid UTF-8 throws, naming the byte offset),
  // splits the code points into the first 90% (training) and the last 10%
  // (validation), and builds the vocabulary from the training split unless one
  // is given (a resumed run's). Throws when a split is shorter than
  // seq_len + 1 characters, the length of one window.
  TextDataset(const std::string& utf8, int64_t seq_len,
              std::optional<examples::CharVocab> vocab = std::nullopt);

  const examples::CharVocab& vocab() const { return vocab_; }
  int64_t seq_len() const { return seq_len_; }
  // Token ids, 32-bit (half the memory of int64 for the 4.3M-character
  // default text); batches widen them to int64 tensors.
  const std::vector<int32_t>& train_tokens() const { return train_; }
  const std::vector<int32_t>& val_tokens() const { return val_; }
  // Validation characters outside the vocabulary (mapped to <unk>).
  int64_t val_unknown() const { return val_unknown_; }

  // Training batch number `index` (0, 1, ...) of a run seeded with `seed`:
  // batch rows are windows starting at uniformly random positions. A function
  // of (seed, index) only, so a resumed run draws exactly the batches an
  // uninterrupted one would, whatever came before. first_row: the rows
  // [first_row, first_row + batch_size) of a larger batch (one rank's part of
  // the batch of all ranks), the same windows whatever the whole batch's size.
  Batch train_batch(int64_t batch_size, uint64_t seed, int64_t index, int64_t first_row = 0) const;
  // Validation batch `index` of `count`: count * batch_size windows spread
  // evenly over the validation split, the same on every call; or only its
  // rows [first_row, first_row + rows) (one rank's part; rows < 0: to the end).
  Batch val_batch(int64_t batch_size, int64_t index, int64_t count, int64_t first_row = 0,
                  int64_t rows = -1) const;

 private:
  Batch gather(const std::vector<int32_t>& tokens, const std::vector<int64_t>& starts) const;

  int64_t seq_len_;
  examples::CharVocab vocab_;
  std::vector<int32_t> train_, val_;
  int64_t val_unknown_ = 0;
};

// SplitMix64 (Steele et al.): the batch positions' generator, fixed here
// rather than std::uniform_int_distribution, whose output differs between
// standard libraries.
uint64_t splitmix64(uint64_t x);

}  // namespace gpt
