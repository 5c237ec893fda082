#include "data_loader.h"

#include <algorithm>
#include <numeric>
#include <string>

namespace examples {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t mix_key(std::initializer_list<uint64_t> parts) {
  uint64_t key = 0;
  for (uint64_t part : parts) key = splitmix64(key ^ splitmix64(part));
  return key;
}

uint64_t below(uint64_t random_bits, uint64_t bound) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(random_bits) * bound) >> 64);
}

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (!shuffle) return order;
  const uint64_t stream = mix_key({seed, static_cast<uint64_t>(epoch)});
  for (size_t i = order.size(); i > 1; --i) {
    const uint64_t j = below(splitmix64(stream + i), i);
    std::swap(order[i - 1], order[static_cast<size_t>(j)]);
  }
  return order;
}

int64_t steps_per_epoch(const LoaderOptions& o) {
  if (o.num_samples <= 0) throw std::invalid_argument("data loader: the data set has no samples");
  if (o.batch_size <= 0)
    throw std::invalid_argument("data loader: batch size " + std::to_string(o.batch_size) +
                                " is not positive");
  if (o.drop_last && o.batch_size > o.num_samples)
    throw std::invalid_argument("data loader: batch size " + std::to_string(o.batch_size) +
                                " is larger than the data set (" + std::to_string(o.num_samples) +
                                " samples), so an epoch has no full batch");
  return o.drop_last ? o.num_samples / o.batch_size
                     : (o.num_samples + o.batch_size - 1) / o.batch_size;
}

BatchRequest batch_request(const LoaderOptions& options, const std::vector<int64_t>& order,
                           int64_t step) {
  const int64_t per_epoch = steps_per_epoch(options);
  BatchRequest r;
  r.step = step;
  r.epoch = step / per_epoch;
  r.index_in_epoch = step % per_epoch;
  r.seed = options.seed;
  const auto first = static_cast<size_t>(r.index_in_epoch * options.batch_size);
  const size_t last = std::min(first + static_cast<size_t>(options.batch_size), order.size());
  r.sample_indices.assign(order.begin() + static_cast<std::ptrdiff_t>(first),
                          order.begin() + static_cast<std::ptrdiff_t>(last));
  return r;
}

BatchRequest batch_request(const LoaderOptions& options, int64_t step) {
  const int64_t epoch = step / steps_per_epoch(options);
  return batch_request(
      options, epoch_order(options.num_samples, options.seed, epoch, options.shuffle), step);
}

}  // namespace examples
