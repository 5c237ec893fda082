#include "text_data.h"

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "../common/files.h"
#include "../common/utf8.h"

namespace gpt {
namespace {

// `bible`'s line width follows $COLUMNS unless given: fixed, so that every
// machine caches the same text.
constexpr const char* kBibleCommand = "bible -l79 'gen1:1-rev22:21' </dev/null";

std::string run_bible() {
  if (examples::find_on_path("bible").empty())
    throw std::runtime_error(
        "the default text needs the `bible` command from Debian's bible-kjv package: run "
        "scripts/install-deps.sh --examples (or apt-get install bible-kjv), or pass --data FILE");
  std::FILE* pipe = ::popen(kBibleCommand, "r");
  if (pipe == nullptr) throw std::runtime_error(std::string("cannot run: ") + kBibleCommand);
  std::string text;
  char buf[1 << 16];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) text.append(buf, n);
  const int status = ::pclose(pipe);
  if (status != 0 || text.empty())
    throw std::runtime_error(std::string(kBibleCommand) + " failed (exit status " +
                             std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : status) +
                             "): is bible-kjv-text installed?");
  return text;
}

}  // namespace

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

Text read_text_file(const std::string& path, uint64_t max_bytes) {
  return {examples::read_input_file("--data", path, max_bytes, "--max-data-bytes"), path};
}

Text king_james_bible() {
  const std::filesystem::path cached = examples::cache_dir() / "kjv.txt";
  std::error_code ec;
  if (std::filesystem::file_size(cached, ec) > 0 && !ec)
    return {examples::read_input_file("the cached text", cached),
            "King James Bible (" + cached.string() + ")"};
  std::string text = run_bible();
  try {
    examples::write_file_atomically(cached, text);
  } catch (const std::runtime_error& e) {
    std::fprintf(stderr, "note: not caching the text: %s\n", e.what());
  }
  return {std::move(text), "King James Bible (bible-kjv, cached in " + cached.string() + ")"};
}

TextDataset::TextDataset(const std::string& utf8, int64_t seq_len,
                         std::optional<examples::CharVocab> vocab)
    : seq_len_(seq_len), vocab_(examples::CharVocab::build(U"")) {
  if (seq_len < 1) throw std::invalid_argument("seq_len must be positive");
  const std::u32string text = examples::decode_utf8(utf8);
  const auto n = static_cast<int64_t>(text.size());
  const int64_t n_train = n - n / kValidationDivisor;
  const std::u32string_view all(text);
  const std::u32string_view train_text = all.substr(0, static_cast<size_t>(n_train));
  const std::u32string_view val_text = all.substr(static_cast<size_t>(n_train));
  const int64_t window = seq_len + 1;
  if (n_train < window || n - n_train < window)
    throw std::runtime_error(
        "the text is too short for --seq-len " + std::to_string(seq_len) + ": its " +
        std::to_string(n) + " characters split into " + std::to_string(n_train) +
        " for training and " + std::to_string(n - n_train) +
        " for validation, and each split needs at least seq_len + 1 = " + std::to_string(window));
  vocab_ = vocab ? std::move(*vocab) : examples::CharVocab::build(train_text);
  auto narrow = [](const std::vector<int64_t>& ids) {  // ids < vocabulary size < 2^31
    return std::vector<int32_t>(ids.begin(), ids.end());
  };
  train_ = narrow(vocab_.encode(train_text));
  val_ = narrow(vocab_.encode(val_text, &val_unknown_));
}

Batch TextDataset::gather(const std::vector<int32_t>& tokens,
                          const std::vector<int64_t>& starts) const {
  const auto b = static_cast<int64_t>(starts.size());
  std::vector<int64_t> inputs, targets;
  inputs.reserve(static_cast<size_t>(b * seq_len_));
  targets.reserve(static_cast<size_t>(b * seq_len_));
  for (int64_t start : starts) {
    auto first = tokens.begin() + start;
    inputs.insert(inputs.end(), first, first + seq_len_);
    targets.insert(targets.end(), first + 1, first + seq_len_ + 1);
  }
  return {lg::from_vector(inputs, {b, seq_len_}), lg::from_vector(targets, {b, seq_len_})};
}

Batch TextDataset::train_batch(int64_t batch_size, uint64_t seed, int64_t index,
                               int64_t first_row) const {
  // Windows may start anywhere in [0, positions).
  const auto positions = static_cast<uint64_t>(static_cast<int64_t>(train_.size()) - seq_len_);
  const uint64_t stream = splitmix64(seed ^ splitmix64(static_cast<uint64_t>(index)));
  std::vector<int64_t> starts;
  for (int64_t row = first_row; row < first_row + batch_size; ++row) {
    const uint64_t r = splitmix64(stream + static_cast<uint64_t>(row));
    // Lemire's multiply-shift maps r to [0, positions) with a bias below 2^-40 here.
    starts.push_back(static_cast<int64_t>((static_cast<unsigned __int128>(r) * positions) >> 64));
  }
  return gather(train_, starts);
}

Batch TextDataset::val_batch(int64_t batch_size, int64_t index, int64_t count, int64_t first_row,
                             int64_t rows) const {
  if (index < 0 || index >= count)
    throw std::out_of_range("validation batch " + std::to_string(index) + " of " +
                            std::to_string(count));
  const int64_t positions = static_cast<int64_t>(val_.size()) - seq_len_;
  const int64_t windows = batch_size * count;
  std::vector<int64_t> starts;
  const int64_t end = rows < 0 ? batch_size : std::min(batch_size, first_row + rows);
  for (int64_t row = first_row; row < end; ++row) {
    const int64_t w = index * batch_size + row;
    starts.push_back(windows > 1 ? w * (positions - 1) / (windows - 1) : 0);
  }
  return gather(val_, starts);
}

}  // namespace gpt
