// CPU kernels for the no-grad sampling helpers: multinomial draws from
// counter-based random numbers (reproducible under manual_seed for any thread
// count), and top-k selection per row.
#include <algorithm>
#include <numeric>
#include <vector>

#include "../../core/philox.h"
#include "cpu_kernels.h"
#include "strided_loop.h"

namespace lg::cpu {
namespace {

template <typename T>
void multinomial(const Tensor& out, const Tensor& probs, bool replacement, uint64_t seed,
                 uint64_t offset) {
  const int64_t R = probs.shape()[0], C = probs.shape()[1], S = out.shape()[1];
  const T* p = ptr<T>(probs);
  int64_t* o = ptr<int64_t>(out);
  parallel_region(team_size(R, grain_for(C * S)), [&](Worker& worker) {
    std::vector<double> w, cdf;  // one worker's, reused across its rows
    worker.for_each(0, R, Schedule::Static, [&](int64_t r) {
      const T* row = p + r * C;
      w.assign(row, row + C);  // double: the running sums stay exact enough
      cdf.resize(C);
      if (replacement) std::partial_sum(w.begin(), w.end(), cdf.begin());
      for (int64_t s = 0; s < S; ++s) {
        const uint64_t i = static_cast<uint64_t>(r * S + s);
        const double u = philox::to_unit(philox::word(seed, offset, i));
        if (!replacement) std::partial_sum(w.begin(), w.end(), cdf.begin());
        // The first category whose cumulative mass exceeds u * total; u < 1, so
        // it exists and has positive mass.
        const double target = u * cdf[C - 1];
        int64_t j = std::upper_bound(cdf.begin(), cdf.end(), target) - cdf.begin();
        j = std::min(j, C - 1);
        o[r * S + s] = j;
        if (!replacement) w[j] = 0;
      }
    });
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
