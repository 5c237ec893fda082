// CUDA loss kernels: cross entropy on class indices (the forward keeps each
// row's logsumexp, the backward recomputes the softmax from it) and the class
// pick behind nll_loss, with the formulas of backends/cpu/loss.cpp (sums in
// T, as there). Cross entropy's forward gives each row a group of threads
// (group_reduce.cuh); the others are elementwise. The ops layer does not read
// CUDA targets back to validate them: each kernel treats a target outside
// [0, C) (other than ignore_index) as ignored, 0 loss and 0 gradient, and
// reports the first to the device's error flag (raised at the next
// synchronisation).
#include <cmath>
#include <cstdint>

#include "device_math.cuh"
#include "group_reduce.cuh"

namespace lg::cuda {
namespace {

// Which class targets count: those in [0, classes), not ignore_index; where
// to report the others.
struct TargetCheck {
  int64_t classes, ignore_index;
  DeviceError* error;
  int op;

  static TargetCheck of(const DeviceScope& scope, int64_t classes, int64_t ignore_index) {
    return {classes, ignore_index, scope.error_flag(), scope.report_id()};
  }
  // Whether row r's target t counts; one out of range is reported if `report`
  // (an elementwise kernel reports from one element of the row, not all).
  __device__ bool counts(int64_t t, int64_t r, bool report = true) const {
    if (t == ignore_index) return false;
    if (t >= 0 && t < classes) return true;
    if (report) report_bad(error, op, kFoundTarget, t, 0, classes, r);
    return false;
  }
};

template <int G, typename T>
__global__ void cross_entropy_rows(T* loss, T* lse, const T* logits, const int64_t* target,
                                   int64_t N, int64_t C, TargetCheck check, T eps) {
  const GroupIndex<G> at;
  for (int64_t r = at.first; r < N; r += at.step) {
    const T* row = logits + r * C;
    T m = -T(INFINITY);
    for (int64_t c = at.lane; c < C; c += G) m = m < row[c] ? row[c] : m;
    m = group_all_reduce<G>(m, [](T a, T b) { return a < b ? b : a; });
    // A row of only -inf logits has no finite logsumexp: shift by 0 instead.
    const T shift = m == -T(INFINITY) ? T(0) : m;
    T s = 0, total = 0;
    for (int64_t c = at.lane; c < C; c += G) {
      s += exp_of(row[c] - shift);
      total += row[c];
    }
    s = group_all_reduce<G>(s, [](T a, T b) { return a + b; });
    if (eps != T(0)) total = group_all_reduce<G>(total, [](T a, T b) { return a + b; });
    if (at.lane != 0) continue;
    const T z = shift + log_of(s);
    lse[r] = z;
    const int64_t t = target[r];
    if (!check.counts(t, r)) {
      loss[r] = 0;
      continue;
    }
    // -log p[t] = lse - x[t]; smoothing adds eps * mean over classes of -log p.
    const T nll = z - row[t];
    loss[r] = eps == T(0) ? nll : (1 - eps) * nll + eps * (z - total / static_cast<T>(C));
  }
}

// grad_logits [N,C] = (softmax(logits) - smoothed one-hot) * row_grad, 0 where ignored.
template <typename T>
struct CrossEntropyBackwardFn {
  T* grad;
  const T* row_grad;
  const T* logits;
  const int64_t* target;
  const T* lse;
  int64_t C;
  TargetCheck check;
  T floor, on_target;  // label_smoothing / C, and 1 - label_smoothing
  __device__ void operator()(int64_t i, const int64_t*) const {
    const int64_t r = i / C, c = i % C, t = target[r];
    if (!check.counts(t, r, c == 0)) {
      grad[i] = T(0);
      return;
    }
    const T w = row_grad[r];
    T d = (exp_of(logits[i] - lse[r]) - floor) * w;
    if (c == t) d -= on_target * w;
    grad[i] = d;
  }
};

template <typename T>
struct PickClassFn {
  T* out;
  const T* in;
  const int64_t* target;
  int64_t C;
  TargetCheck check;
  __device__ void operator()(int64_t r, const int64_t*) const {
    const int64_t t = target[r];
    out[r] = check.counts(t, r) ? in[r * C + t] : T(0);
  }
};

template <typename T>
struct PickClassBackwardFn {
  T* out;
  const T* src;
  const int64_t* target;
  int64_t C;
  TargetCheck check;
  __device__ void operator()(int64_t i, const int64_t*) const {
    const int64_t r = i / C, c = i % C, t = target[r];
    out[i] = check.counts(t, r, c == 0) && c == t ? src[r] : T(0);
  }
};

// Every operand contiguous with its expected shape and dtype.
void check_operands(const char* op, std::initializer_list<std::pair<const Tensor*, Shape>> list,
                    DType dtype) {
  for (const auto& [t, shape] : list) {
    check_operand(op, *t, shape, t->dtype() == kInt64 ? kInt64 : dtype);
    LG_CHECK(t->is_contiguous(), op, ": CUDA kernel expected contiguous operands, got ",
             t->describe());
  }
}

// Runs f(i) for i < n (contiguous operands: the flat index is the offset).
template <typename F>
void launch_flat(const char* op, int64_t n, const F& f) {
  const Shape shape{n}, strides{1};
  launch<1>(op, shape, {&strides}, f);
}

template <typename T>
void cross_entropy(const Tensor& loss, const Tensor& lse, const Tensor& logits,
                   const Tensor& target, int64_t ignore_index, double label_smoothing) {
  DeviceScope scope("cross_entropy", {&loss, &lse, &logits, &target});
  LG_CHECK(logits.dim() == 2, "cross_entropy: CUDA kernel expected logits [N,C], got ",
           logits.describe());
  const int64_t N = logits.shape()[0], C = logits.shape()[1];
  check_operands("cross_entropy", {{&loss, {N}}, {&lse, {N}}, {&logits, {N, C}}, {&target, {N}}},
                 dtype_of<T>());
  LG_CHECK(target.dtype() == kInt64, "cross_entropy: targets must be int64, got ",
           target.describe());
  if (N == 0) return;
  with_group_size(C, N, [&]<int G>() {
    launch_kernel(cross_entropy_rows<G, T>, blocks_for_groups<G>(N), kThreads, 0, ptr<T>(loss),
                  ptr<T>(lse), ptr<T>(logits), ptr<int64_t>(target), N, C,
                  TargetCheck::of(scope, C, ignore_index), static_cast<T>(label_smoothing));
  });
}

template <typename T>
void cross_entropy_backward(const Tensor& grad_logits, const Tensor& row_grad, const Tensor& logits,
                            const Tensor& target, const Tensor& lse, int64_t ignore_index,
                            double label_smoothing) {
  const char* op = "cross_entropy backward";
  DeviceScope scope(op, {&grad_logits, &row_grad, &logits, &target, &lse});
  LG_CHECK(logits.dim() == 2, op, ": CUDA kernel expected logits [N,C], got ", logits.describe());
  const int64_t N = logits.shape()[0], C = logits.shape()[1];
  check_operands(
      op,
      {{&grad_logits, {N, C}}, {&row_grad, {N}}, {&logits, {N, C}}, {&target, {N}}, {&lse, {N}}},
      dtype_of<T>());
  LG_CHECK(target.dtype() == kInt64, op, ": targets must be int64, got ", target.describe());
  const T eps = static_cast<T>(label_smoothing);
  launch_flat(op, N * C,
              CrossEntropyBackwardFn<T>{ptr<T>(grad_logits), ptr<T>(row_grad), ptr<T>(logits),
                                        ptr<int64_t>(target), ptr<T>(lse), C,
                                        TargetCheck::of(scope, C, ignore_index),
                                        eps / static_cast<T>(C), 1 - eps});
}

template <typename T>
void pick_class(const Tensor& out, const Tensor& in, const Tensor& target, int64_t ignore_index) {
  DeviceScope scope("nll_loss", {&out, &in, &target});
  LG_CHECK(in.dim() == 2, "nll_loss: CUDA kernel expected input [N,C], got ", in.describe());
  const int64_t N = in.shape()[0], C = in.shape()[1];
  check_operands("nll_loss", {{&out, {N}}, {&in, {N, C}}, {&target, {N}}}, dtype_of<T>());
  LG_CHECK(target.dtype() == kInt64, "nll_loss: targets must be int64, got ", target.describe());
  launch_flat("nll_loss", N,
              PickClassFn<T>{ptr<T>(out), ptr<T>(in), ptr<int64_t>(target), C,
                             TargetCheck::of(scope, C, ignore_index)});
}

template <typename T>
void pick_class_backward(const Tensor& out, const Tensor& src, const Tensor& target,
                         int64_t ignore_index) {
  const char* op = "nll_loss backward";
  DeviceScope scope(op, {&out, &src, &target});
  LG_CHECK(out.dim() == 2, op, ": CUDA kernel expected out [N,C], got ", out.describe());
  const int64_t N = out.shape()[0], C = out.shape()[1];
  check_operands(op, {{&out, {N, C}}, {&src, {N}}, {&target, {N}}}, dtype_of<T>());
  LG_CHECK(target.dtype() == kInt64, op, ": targets must be int64, got ", target.describe());
  launch_flat(op, N * C,
              PickClassBackwardFn<T>{ptr<T>(out), ptr<T>(src), ptr<int64_t>(target), C,
                                     TargetCheck::of(scope, C, ignore_index)});
}

}  // namespace

void fill_loss_kernels(KernelTable& t, DType dtype) {
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      t.cross_entropy = cross_entropy<T>;
      t.cross_entropy_backward = cross_entropy_backward<T>;
      t.pick_class = pick_class<T>;
      t.pick_class_backward = pick_class_backward<T>;
    }
  });
}

}  // namespace lg::cuda
