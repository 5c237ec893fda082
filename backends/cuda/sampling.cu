// CUDA kernels for the no-grad sampling helpers, with the results of
// backends/cpu/sampling.cpp: top-k by a stable segmented radix sort of each
// row (cub) on keys that order values as the CPU's comparison does, and
// multinomial draws from the same Philox counters as the CPU, with
// replacement by inverse CDF over each row's sequential running sums (the
// CPU's partial_sum, so the same bits), without replacement as the top keys
// of Efraimidis and Spirakis, ranked by the same sort. The ops layer does not
// read CUDA probabilities back to validate them: a kernel checks each row and
// reports the first bad one to the device's error flag (raised at the next
// synchronisation); a bad row's draws are still categories in [0, C).
#include <climits>
#include <cmath>
#include <cstdint>
#include <cub/device/device_segmented_radix_sort.cuh>
#include <type_traits>

#include "../../core/philox.h"
#include "group_reduce.cuh"

namespace lg::cuda {
namespace {

// A key whose unsigned order is the CPU's ranking for the smallest first:
// numbers in increasing order, -0 tied with +0, every NaN last. For the
// largest first the key is complemented, which puts NaN first; the stable sort
// breaks ties by the lower index, as the CPU does.
template <typename T>
__device__ inline uint64_t rank_key(T x, bool largest) {
  constexpr uint64_t kSign = uint64_t{1} << 63;
  uint64_t k;
  if constexpr (std::is_same_v<T, int64_t>) {
    k = static_cast<uint64_t>(x) ^ kSign;
  } else if (x != x) {
    k = ~uint64_t{0};
  } else {
    // float widens to double exactly and in order; x == 0 drops the sign of -0.
    const uint64_t bits = static_cast<uint64_t>(__double_as_longlong(x == 0 ? 0.0 : double(x)));
    k = (bits & kSign) ? ~bits : bits | kSign;
  }
  return largest ? ~k : k;
}

template <typename T>
struct RankKeyFn {
  uint64_t* keys;
  int64_t* index;
  const T* in;
  int64_t n;
  bool largest;
  __device__ void operator()(int64_t i, const int64_t*) const {
    keys[i] = rank_key(in[i], largest);
    index[i] = i % n;
  }
};

struct RowStartFn {
  int64_t* starts;
  int64_t n;
  __device__ void operator()(int64_t r, const int64_t*) const { starts[r] = r * n; }
};

// Runs f(i) for i < n (contiguous operands: the flat index is the offset).
template <typename F>
void launch_flat(const char* op, int64_t n, const F& f) {
  const Shape shape{n}, strides{1};
  launch<1>(op, shape, {&strides}, f);
}

// The indices [R,n] (int64) that sort each row of data [R,n] (contiguous, on
// the device) as the CPU's topk ranks it.
template <typename T>
Tensor ranked_order(const char* op, const T* data, int64_t R, int64_t n, bool largest,
                    Device device) {
  LG_CHECK(R * n <= INT_MAX && R < INT_MAX, op, ": the CUDA kernel sorts at most ", INT_MAX,
           " elements at once, got ", R, " rows of ", n);
  const int items = static_cast<int>(R * n), segments = static_cast<int>(R);
  Tensor keys = Tensor::empty({R, n}, kInt64, device),
         sorted_keys = Tensor::empty({R, n}, kInt64, device);
  Tensor index = Tensor::empty({R, n}, kInt64, device),
         order = Tensor::empty({R, n}, kInt64, device);
  Tensor starts = Tensor::empty({R + 1}, kInt64, device);
  launch_flat(op, R * n, RankKeyFn<T>{ptr<uint64_t>(keys), ptr<int64_t>(index), data, n, largest});
  launch_flat(op, R + 1, RowStartFn{ptr<int64_t>(starts), n});
  const int64_t* begin = ptr<int64_t>(starts);
  size_t bytes = 0;
  check(cub::DeviceSegmentedRadixSort::SortPairs(
            nullptr, bytes, ptr<uint64_t>(keys), ptr<uint64_t>(sorted_keys), ptr<int64_t>(index),
            ptr<int64_t>(order), items, segments, begin, begin + 1, 0, 64, scope_stream(op)),
        op, "cub::DeviceSegmentedRadixSort::SortPairs (size query)");
  Tensor scratch = Tensor::empty({static_cast<int64_t>(bytes / 8 + 1)}, kInt64, device);
  check(cub::DeviceSegmentedRadixSort::SortPairs(scratch.raw_data(), bytes, ptr<uint64_t>(keys),
                                                 ptr<uint64_t>(sorted_keys), ptr<int64_t>(index),
                                                 ptr<int64_t>(order), items, segments, begin,
                                                 begin + 1, 0, 64, scope_stream(op)),
        op, "cub::DeviceSegmentedRadixSort::SortPairs");
  return order;
}

// values and indices [R,k] from the first k of each row's order [R,n].
template <typename T>
struct PickTopFn {
  T* values;
  int64_t* indices;
  const T* in;
  const int64_t* order;
  int64_t n, k;
  __device__ void operator()(int64_t i, const int64_t*) const {
    const int64_t r = i / k, j = order[r * n + i % k];
    indices[i] = j;
    if (values) values[i] = in[r * n + j];
  }
};

template <typename T>
void topk(const Tensor& values, const Tensor& indices, const Tensor& in, bool largest) {
  DeviceScope scope("topk", {&values, &indices, &in});
  LG_CHECK(in.dim() == 2 && values.dim() == 2 && in.is_contiguous(),
           "topk: CUDA kernel expected a contiguous input [R,n] and values [R,k], got ",
           in.describe(), " and ", values.describe());
  const int64_t R = in.shape()[0], n = in.shape()[1], k = values.shape()[1];
  check_operand("topk", in, {R, n}, dtype_of<T>());
  check_operand("topk", values, {R, k}, dtype_of<T>());
  check_operand("topk", indices, {R, k}, kInt64);
  LG_CHECK(k <= n && values.is_contiguous() && indices.is_contiguous(),
           "topk: CUDA kernel expected contiguous results with k <= n, got ", values.describe(),
           " from ", in.describe());
  if (R * k == 0) return;
  const Tensor order = ranked_order("topk", ptr<T>(in), R, n, largest, in.device());
  launch_flat(
      "topk", R * k,
      PickTopFn<T>{ptr<T>(values), ptr<int64_t>(indices), ptr<T>(in), ptr<int64_t>(order), n, k});
}

// One thread per row: its running sums of the weights divided by the row's
// largest, in double and in order (the CPU's scaled_weights and partial_sum).
template <typename T>
__global__ void cumulative_weights(double* cdf, const T* probs, int64_t R, int64_t C) {
  const GroupIndex<1> at;
  for (int64_t r = at.first; r < R; r += at.step) {
    const T* row = probs + r * C;
    T top = row[0];
    for (int64_t j = 1; j < C; ++j) top = row[j] > top ? row[j] : top;
    double* c = cdf + r * C;
    double acc = 0;
    for (int64_t j = 0; j < C; ++j) {
      acc += row[j] / double(top);  // 0 + w0 is w0 (the CPU starts from w0)
      c[j] = acc;
    }
  }
}

// Draw i = r*S + s: the first category whose running sum exceeds u * total
// (std::upper_bound's answer), the last one at most.
struct InverseCdfFn {
  int64_t* out;
  const double* cdf;
  int64_t C, S;
  uint64_t seed, offset;
  __device__ void operator()(int64_t i, const int64_t*) const {
    const double* c = cdf + (i / S) * C;
    const double u = philox::to_unit(philox::word(seed, offset, static_cast<uint64_t>(i)));
    const double target = u * c[C - 1];
    int64_t lo = 0, hi = C;  // the answer lies in [lo, hi]
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (c[mid] > target) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    out[i] = lo < C - 1 ? lo : C - 1;
  }
};

// Each row of probs [R,C] must hold finite, non-negative weights, at least
// `needed` of them non-zero (1, or the draws without replacement); reports
// the first row that does not, naming its first bad column if it has one.
template <int G, typename T>
__global__ void check_probability_rows(const T* probs, int64_t R, int64_t C, int64_t needed,
                                       DeviceError* error, int op) {
  const GroupIndex<G> at;
  for (int64_t r = at.first; r < R; r += at.step) {
    const T* row = probs + r * C;
    long long first_bad = C, non_zero = 0;
    for (int64_t j = at.lane; j < C; j += G) {
      const T w = row[j];
      if (!(w >= T(0) && w < T(INFINITY)) && j < first_bad) first_bad = j;
      non_zero += w > T(0);
    }
    first_bad =
        group_all_reduce<G>(first_bad, [](long long a, long long b) { return a < b ? a : b; });
    non_zero = group_all_reduce<G>(non_zero, [](long long a, long long b) { return a + b; });
    if (at.lane != 0) continue;
    if (first_bad < C)
      report_bad(error, op, kFoundProbability, first_bad, 0, C, r);
    else if (non_zero < needed)
      report_bad(error, op, non_zero == 0 ? kFoundZeroRow : kFoundFewCategories, non_zero, needed,
                 C, r);
  }
}

template <typename T>
void check_probabilities(const DeviceScope& scope, const Tensor& probs, int64_t needed) {
  const int64_t R = probs.shape()[0], C = probs.shape()[1];
  with_group_size(C, R, [&]<int G>() {
    launch_kernel(check_probability_rows<G, T>, blocks_for_groups<G>(R), kThreads, 0, ptr<T>(probs),
                  R, C, needed, scope.error_flag(), scope.report_id());
  });
}

// Category i = r*C + j's key log(w_j) - log(E_j), E_j ~ Exp(1) from counter r*C + j.
template <typename T>
struct RandomKeyFn {
  double* keys;
  const T* probs;
  uint64_t seed, offset;
  __device__ void operator()(int64_t i, const int64_t*) const {
    const uint32_t bits = philox::word(seed, offset, static_cast<uint64_t>(i));
    const double u = (bits + 0.5) * (1.0 / 4294967296.0);  // in (0, 1)
    keys[i] = log(static_cast<double>(probs[i])) - log(-log(u));
  }
};

template <typename T>
void multinomial(const Tensor& out, const Tensor& probs, bool replacement, uint64_t seed,
                 uint64_t offset) {
  DeviceScope scope("multinomial", {&out, &probs});
  LG_CHECK(probs.dim() == 2 && out.dim() == 2 && probs.is_contiguous() && out.is_contiguous(),
           "multinomial: CUDA kernel expected contiguous probs [R,C] and out [R,S], got ",
           probs.describe(), " and ", out.describe());
  const int64_t R = probs.shape()[0], C = probs.shape()[1], S = out.shape()[1];
  check_operand("multinomial", probs, {R, C}, dtype_of<T>());
  check_operand("multinomial", out, {R, S}, kInt64);
  if (R * S == 0) return;
  check_probabilities<T>(scope, probs, replacement ? 1 : S);
  if (replacement) {
    Tensor cdf = Tensor::empty({R, C}, kFloat64, probs.device());
    launch_kernel(cumulative_weights<T>, blocks_for_groups<1>(R), kThreads, 0, ptr<double>(cdf),
                  ptr<T>(probs), R, C);
    launch_flat("multinomial", R * S,
                InverseCdfFn{ptr<int64_t>(out), ptr<double>(cdf), C, S, seed, offset});
    return;
  }
  LG_CHECK(S <= C, "multinomial: CUDA kernel cannot draw ", S, " of ", C,
           " categories without replacement");
  Tensor keys = Tensor::empty({R, C}, kFloat64, probs.device());
  launch_flat("multinomial", R * C, RandomKeyFn<T>{ptr<double>(keys), ptr<T>(probs), seed, offset});
  const Tensor order =
      ranked_order("multinomial", ptr<double>(keys), R, C, /*largest=*/true, probs.device());
  launch_flat("multinomial", R * S,
              PickTopFn<double>{nullptr, ptr<int64_t>(out), nullptr, ptr<int64_t>(order), C, S});
}

}  // namespace

void fill_sampling_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) t.multinomial = multinomial<T>;
    if constexpr (!std::is_same_v<T, bool>) t.topk = topk<T>;
  });
}

}  // namespace lg::cuda
