// CPU kernels for the no-grad sampling helpers: multinomial draws from
// counter-based random numbers (reproducible under manual_seed for any thread
// count), and top-k selection per row.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "../../core/philox.h"
#include "cpu_kernels.h"
#include "strided_loop.h"

namespace lg::cpu {
namespace {

// One row's weights divided by the largest, in double, so that their running
// sums stay below C: weights near DBL_MAX would otherwise sum to inf, and
// every draw would land on the last category.
template <typename T>
std::vector<double> scaled_weights(const T* row, int64_t C) {
  const double top = *std::max_element(row, row + C);  // > 0: the ops layer checked the mass
  std::vector<double> w(C);
  for (int64_t j = 0; j < C; ++j) w[j] = row[j] / top;
  return w;
}

// S draws with replacement by inverse CDF; draw s uses counter r*S + s.
template <typename T>
void draw_with_replacement(int64_t* out, const T* row, int64_t C, int64_t S, uint64_t seed,
                           uint64_t offset, uint64_t first_counter) {
  std::vector<double> cdf = scaled_weights(row, C);
  std::partial_sum(cdf.begin(), cdf.end(), cdf.begin());
  for (int64_t s = 0; s < S; ++s) {
    const double u = philox::to_unit(philox::word(seed, offset, first_counter + s));
    // The first category whose cumulative mass exceeds u * total; u < 1, so
    // it exists and has positive mass.
    const int64_t j = std::upper_bound(cdf.begin(), cdf.end(), u * cdf[C - 1]) - cdf.begin();
    out[s] = std::min(j, C - 1);
  }
}

// S draws without replacement (Efraimidis and Spirakis): category j gets the
// key log(w_j) - log(E_j) with E_j ~ Exp(1) from counter r*C + j, and the S
// largest keys in decreasing order are S successive draws without
// replacement. Logarithms cannot overflow and the indices are distinct by
// construction; a zero weight has key -inf and is never among the S (the ops
// layer checked that S weights are positive).
template <typename T>
void draw_without_replacement(int64_t* out, const T* row, int64_t C, int64_t S, uint64_t seed,
                              uint64_t offset, uint64_t first_counter) {
  std::vector<std::pair<double, int64_t>> keys(C);
  for (int64_t j = 0; j < C; ++j) {
    const uint32_t bits = philox::word(seed, offset, first_counter + j);
    const double u = (bits + 0.5) * (1.0 / 4294967296.0);  // in (0, 1): E is finite and > 0
    keys[j] = {std::log(static_cast<double>(row[j])) - std::log(-std::log(u)), j};
  }
  auto larger = [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  std::partial_sort(keys.begin(), keys.begin() + S, keys.end(), larger);
  for (int64_t s = 0; s < S; ++s) out[s] = keys[s].second;
}

template <typename T>
void multinomial(const Tensor& out, const Tensor& probs, bool replacement, uint64_t seed,
                 uint64_t offset) {
  const int64_t R = probs.shape()[0], C = probs.shape()[1], S = out.shape()[1];
  const T* p = ptr<T>(probs);
  int64_t* o = ptr<int64_t>(out);
  // Each row allocates its own buffers; parallel_for carries a bad_alloc to the caller.
  parallel_for(0, R, grain_for(C * S), [&](int64_t r) {
    if (replacement)
      draw_with_replacement(o + r * S, p + r * C, C, S, seed, offset, static_cast<uint64_t>(r * S));
    else
      draw_without_replacement(o + r * S, p + r * C, C, S, seed, offset,
                               static_cast<uint64_t>(r * C));
  });
}

template <typename T>
void topk(const Tensor& values, const Tensor& indices, const Tensor& in, bool largest) {
  const int64_t R = in.shape()[0], n = in.shape()[1], k = values.shape()[1];
  const T* x = ptr<T>(in);
  T* v = ptr<T>(values);
  int64_t* ix = ptr<int64_t>(indices);
  parallel_region(team_size(R, grain_for(n)), [&](Worker& worker) {
    std::vector<int64_t> order;  // one worker's, reused across its rows
    worker.for_each(0, R, Schedule::Static, [&](int64_t r) {
      const T* row = x + r * n;
      // NaN ranks above every number (PyTorch's rule); ties go to the lower index.
      auto before = [&](int64_t a, int64_t b) {
        const T va = row[a], vb = row[b];
        const bool na = va != va, nb = vb != vb;
        if (na != nb) return largest ? na : nb;
        if (!na && va != vb) return largest ? va > vb : va < vb;
        return a < b;
      };
      order.resize(n);
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
      for (int64_t j = 0; j < k; ++j) {
        ix[r * k + j] = order[j];
        v[r * k + j] = row[order[j]];
      }
    });
  });
}

}  // namespace

void fill_sampling_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) t.multinomial = multinomial<T>;
    if constexpr (!std::is_same_v<T, bool>) t.topk = topk<T>;
  });
}

}  // namespace lg::cpu
