#include "masking.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "common/data_loader.h"

namespace gpt {
namespace {

// 53 random bits as a double in [0, 1).
double unit(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

constexpr uint64_t kValidationMaskKey = 0x6d6c6d2d76616c69;  // fixed: "mlm-vali"

}  // namespace

uint64_t train_mask_stream(uint64_t seed, int64_t index) {
  return examples::mix_key({seed, 0x6d61736b /* "mask" */, static_cast<uint64_t>(index)});
}

uint64_t validation_mask_stream(int64_t index) {
  return examples::mix_key({kValidationMaskKey, static_cast<uint64_t>(index)});
}

MaskedBatch mask_tokens(const lg::Tensor& windows, const MaskingOptions& options, uint64_t stream,
                        int64_t first_row) {
  if (windows.dim() != 2 || windows.dtype() != lg::kInt64)
    throw std::invalid_argument("mask_tokens: windows must be int64 [B, T], not " +
                                lg::shape_str(windows.shape()));
  if (options.mask_id < 2)
    throw std::invalid_argument("mask_tokens: mask_id " + std::to_string(options.mask_id) +
                                " leaves no character to draw");
  if (!(options.probability > 0 && options.probability < 1))
    throw std::invalid_argument("mask_tokens: probability must be in (0, 1)");
  const int64_t rows = windows.size(0), length = windows.size(1);
  std::vector<int64_t> inputs = windows.to_vector<int64_t>();
  std::vector<int64_t> targets(inputs.size(), kNotMasked);
  const auto characters = static_cast<uint64_t>(options.mask_id - 1);  // ids 1 .. mask_id - 1
  MaskedBatch out;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t t = 0; t < length; ++t) {
      const uint64_t key =
          examples::mix_key({stream, static_cast<uint64_t>(first_row + r), static_cast<uint64_t>(t)});
      if (unit(examples::splitmix64(key)) >= options.probability) continue;
      const auto i = static_cast<size_t>(r * length + t);
      targets[i] = inputs[i];
      const double how = unit(examples::splitmix64(key + 1));
      if (how < 0.8)
        inputs[i] = options.mask_id;
      else if (how < 0.9)
        inputs[i] = 1 + static_cast<int64_t>(examples::below(examples::splitmix64(key + 2), characters));
      ++out.chosen;
    }
  }
  if (out.chosen == 0 && !inputs.empty()) {
    const auto i = static_cast<size_t>(examples::below(examples::splitmix64(stream), inputs.size()));
    targets[i] = inputs[i];
    inputs[i] = options.mask_id;
    out.chosen = 1;
  }
  out.inputs = lg::from_vector(inputs, {rows, length});
  out.targets = lg::from_vector(targets, {rows, length});
  return out;
}

MaskedCounts count_mlm_errors(const lg::Tensor& logits, const lg::Tensor& targets) {
  if (logits.dim() != 3 || targets.shape() != lg::Shape{logits.size(0), logits.size(1)})
    throw std::invalid_argument("count_mlm_errors: logits " + lg::shape_str(logits.shape()) +
                                " and targets " + lg::shape_str(targets.shape()) +
                                " are not [B, T, V] and [B, T]");
  const std::vector<int64_t> predicted =
      lg::argmax(logits, -1).to(lg::Device::cpu()).to_vector<int64_t>();
  const std::vector<int64_t> want = targets.to(lg::Device::cpu()).to_vector<int64_t>();
  MaskedCounts counts;
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] == kNotMasked) continue;
    ++counts.chosen;
    counts.wrong += predicted[i] != want[i] ? 1 : 0;
  }
  return counts;
}

MaskedCounts count_constant_errors(const lg::Tensor& targets, int64_t id) {
  MaskedCounts counts;
  for (int64_t want : targets.to(lg::Device::cpu()).to_vector<int64_t>()) {
    if (want == kNotMasked) continue;
    ++counts.chosen;
    counts.wrong += want != id ? 1 : 0;
  }
  return counts;
}

int64_t commonest_token(const std::vector<int32_t>& tokens) {
  if (tokens.empty()) throw std::invalid_argument("commonest_token: no tokens");
  const int32_t top = *std::max_element(tokens.begin(), tokens.end());
  std::vector<int64_t> count(static_cast<size_t>(top) + 1, 0);
  for (int32_t t : tokens) ++count[static_cast<size_t>(t)];
  return std::max_element(count.begin(), count.end()) - count.begin();
}

}  // namespace gpt
