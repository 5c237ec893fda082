// The kernel interface: one table of kernels per device × dtype, filled by the
// backends (backends/cpu, backends/cuda) at library start-up. ops/ calls
// kernels only through these tables, so a new device is one folder under
// backends/ that fills the same tables.
//
// Conventions: `out` is allocated by the caller with the final shape and the
// table's dtype (bool for comparisons). Inputs are views of any strides
// (broadcast inputs come as expanded views with stride 0) with out's shape,
// already converted to the table's dtype and placed on the table's device.
#pragma once
#include <lasergrad/core/scalar.h>
#include <lasergrad/core/tensor.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

namespace lg {

enum class UnaryOp : uint8_t {
  Neg, Exp, Log, Sqrt, Abs,
  Tanh, Sigmoid, Relu, Gelu, GeluTanh, Silu, Softplus, Erf,  // activations (beta 1, no threshold)
  Count
};
enum class BinaryOp : uint8_t {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum,   // arithmetic: out has the table's dtype
  Eq, Ne, Lt, Le, Gt, Ge,                      // comparisons: out is bool
  Count
};
enum class ReduceOp : uint8_t { Sum, Max, Min, Count };

// Geometry of a 2-d convolution window (conv1d uses H = 1), per axis {h, w}.
struct ConvGeometry {
  int64_t kernel[2] = {1, 1};
  int64_t stride[2] = {1, 1};
  int64_t padding[2] = {0, 0};
  int64_t dilation[2] = {1, 1};
  int64_t groups = 1;  // only conv2d_direct reads it
};

inline bool is_comparison(BinaryOp op) { return op >= BinaryOp::Eq; }
const char* op_name(UnaryOp op);
const char* op_name(BinaryOp op);

// An attention call as the kernels see it: q [B,H,Tq,d], k and v [B,H,Tk,d],
// contiguous; mask undefined or an additive mask of q's dtype viewed as
// [B,H,Tq,Tk] (stride 0 on broadcast dims); causal is bottom-right aligned.
struct AttentionProblem {
  Tensor q, k, v;
  Tensor mask;
  bool causal = false;
  bool laser = false;
  double scale = 1.0;
};

// The arguments of the ops-level adam_step op (include/lasergrad/ops/adam_step.h).
struct AdamStepArgs;

struct KernelTable {
  void (*fill)(const Tensor& out, const Scalar& value) = nullptr;
  // dst has the table's dtype; src has dst's shape, any dtype, same device.
  void (*copy)(const Tensor& dst, const Tensor& src) = nullptr;
  void (*unary)(UnaryOp op, const Tensor& out, const Tensor& in) = nullptr;
  // grad_in = grad_out * f'(x) for the activations with a fused backward (Gelu,
  // GeluTanh, Silu, and Relu as a select: x > 0 ? grad_out : 0); grad_in
  // contiguous, grad_out and x views with its shape.
  void (*activation_backward)(UnaryOp op, const Tensor& grad_in, const Tensor& grad_out,
                              const Tensor& x) = nullptr;
  void (*binary)(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) = nullptr;
  // out has `in`'s shape with the reduced dims set to 1 (contiguous).
  void (*reduce)(ReduceOp op, const Tensor& out, const Tensor& in,
                 const std::vector<int64_t>& dims) = nullptr;
  // Index of the max (op Max) or min (op Min) along dim; out is int64 with size 1 at dim.
  void (*arg_reduce)(ReduceOp op, const Tensor& out, const Tensor& in, int64_t dim) = nullptr;
  // Batched matrix product: a [B,M,K] @ b [B,K,N] -> out [B,M,N] (out contiguous).
  void (*matmul)(const Tensor& out, const Tensor& a, const Tensor& b) = nullptr;
  // PyTorch's F.linear: out [M,N] = x [M,K] @ weight [N,K]ᵀ (+ bias [N] on every row
  // if defined), out contiguous, x and weight views a BLAS reads without a copy.
  void (*linear)(const Tensor& out, const Tensor& x, const Tensor& weight,
                 const Tensor& bias) = nullptr;
  // Counter-based random numbers: element i of out draws from (seed, offset + i),
  // so results do not depend on the thread count.
  void (*uniform)(const Tensor& out, double low, double high, uint64_t seed,
                  uint64_t offset) = nullptr;
  void (*normal)(const Tensor& out, double mean, double std, uint64_t seed,
                 uint64_t offset) = nullptr;
  // Dropout's scaled keep mask in one pass (ops/dropout.cpp falls back to rand
  // and lt where a table lacks it): out (contiguous) element i is 1/(1-p) if the value
  // uniform(out, 0, 1, seed, offset) gives it is below 1-p (both in out's dtype), else 0.
  void (*dropout_mask)(const Tensor& out, double p, uint64_t seed, uint64_t offset) = nullptr;
  bool (*all_finite)(const Tensor& in) = nullptr;

  // ---- normalization (ops/normalization.cpp) ----
  // Layer norm of each row of x [M,N]: out [M,N], mean and rstd [M] (saved for
  // the backward); weight and bias are [N] or undefined (absent). All contiguous.
  void (*layer_norm)(const Tensor& out, const Tensor& mean, const Tensor& rstd, const Tensor& x,
                     const Tensor& weight, const Tensor& bias, double eps) = nullptr;
  // Its gradients from grad [M,N]: dx [M,N], dweight and dbias [N]; each output
  // may be undefined (not needed), weight may be undefined (absent). All contiguous.
  void (*layer_norm_backward)(const Tensor& dx, const Tensor& dweight, const Tensor& dbias,
                              const Tensor& grad, const Tensor& x, const Tensor& mean,
                              const Tensor& rstd, const Tensor& weight) = nullptr;

  // ---- indexing (ops/indexing.cpp) ----
  // Indices are int64, contiguous, and already checked to lie in [0, size).
  // in [A,n,B] and out [A,K,B] contiguous, index [K]: out[a,k,b] = in[a,index[k],b].
  void (*index_select)(const Tensor& out, const Tensor& in, const Tensor& index) = nullptr;
  // Its adjoint, in place: out [A,n,B] += src [A,K,B] at out[a,index[k],b] (contiguous).
  void (*index_add)(const Tensor& out, const Tensor& index, const Tensor& src) = nullptr;
  // out and index have one shape; in has any strides and shape[d] >= index's
  // for d != dim: out[..i..] = in[..index[..i..]..] with the index taking dim's place.
  void (*gather)(const Tensor& out, const Tensor& in, int64_t dim, const Tensor& index) = nullptr;
  // Its adjoint, in place: out (contiguous) at index's positions along dim
  // += src, where src has index's shape and any strides.
  void (*scatter_add)(const Tensor& out, int64_t dim, const Tensor& index,
                      const Tensor& src) = nullptr;

  // ---- softmax (ops/softmax.cpp) ----
  // softmax (log = false) or log_softmax (log = true) of `in` along dim into
  // out; both contiguous with one shape. A row of only -inf gives 0.
  void (*softmax)(const Tensor& out, const Tensor& in, int64_t dim, bool log) = nullptr;
  // Their gradient from the output y and the upstream gradient g (all contiguous,
  // one shape): softmax y*(g - sum(g*y)), log_softmax g - exp(y)*sum(g); 0 on a
  // row of only -inf inputs.
  void (*softmax_backward)(const Tensor& grad_in, const Tensor& grad_out, const Tensor& out,
                           int64_t dim, bool log) = nullptr;

  // ---- losses (ops/loss.cpp) ----
  // Per-row cross entropy of logits [N,C] against int64 targets [N] (each in
  // [0, C) or ignore_index: the ops layer checks CPU targets; a device's
  // kernels check their own, treat a bad one as ignored and report it at the
  // next synchronisation; all contiguous): loss [N] (0 where ignored) and lse
  // [N], each row's logsumexp, saved for the backward.
  void (*cross_entropy)(const Tensor& loss, const Tensor& lse, const Tensor& logits,
                        const Tensor& target, int64_t ignore_index,
                        double label_smoothing) = nullptr;
  // grad_logits [N,C] = (softmax(logits) - smoothed one-hot) * row_grad [N], 0 where ignored.
  void (*cross_entropy_backward)(const Tensor& grad_logits, const Tensor& row_grad,
                                 const Tensor& logits, const Tensor& target, const Tensor& lse,
                                 int64_t ignore_index, double label_smoothing) = nullptr;
  // out [N] = in[n, target[n]] (0 where target[n] == ignore_index) of in [N,C]; its
  // adjoint writes out [N,C] = 0 but out[n, target[n]] = src[n]. All contiguous;
  // targets checked as for cross_entropy.
  void (*pick_class)(const Tensor& out, const Tensor& in, const Tensor& target,
                     int64_t ignore_index) = nullptr;
  void (*pick_class_backward)(const Tensor& out, const Tensor& src, const Tensor& target,
                              int64_t ignore_index) = nullptr;
  // CTC negative log likelihood per sample, loss [N], of log_probs [T,N,C]
  // against padded targets [N,S] with lengths [N] (int64; all contiguous; the
  // ops layer validates CPU ones, a device's kernel checks its own and gives a
  // bad sample loss 0 and gradient 0, reported at the next synchronisation).
  // If grad is defined, also grad [T,N,C] = d loss[n] / d log_probs (0 where
  // the loss is infinite).
  void (*ctc_loss)(const Tensor& loss, const Tensor& grad, const Tensor& log_probs,
                   const Tensor& targets, const Tensor& input_lengths,
                   const Tensor& target_lengths, int64_t blank) = nullptr;

  // ---- attention (ops/attention.cpp): one tiled kernel family for softmax and LASER ----
  // Forward writes out [B,H,Tq,d] and lse [B,H,Tq] (+inf for a row with no attended key);
  // for LASER also row_max [B,H,Tq,d] (the running column max r each row used) and
  // flags [B,H,Tq] (rows recomputed exactly). Backward fills dq, dk, dv (zeroed by the caller).
  // q, k, v, out, grad_out, dq, dk, dv have unit stride along d and rows at
  // least d apart, with any batch and head strides (heads of a [B,T,H*d]
  // projection); lse, row_max and flags are contiguous.
  void (*attention_forward)(const AttentionProblem& p, const Tensor& out, const Tensor& lse,
                            const Tensor& row_max, const Tensor& flags) = nullptr;
  void (*attention_backward)(const AttentionProblem& p, const Tensor& out, const Tensor& grad_out,
                             const Tensor& lse, const Tensor& row_max, const Tensor& flags,
                             const Tensor& dq, const Tensor& dk, const Tensor& dv) = nullptr;

  // ---- convolution (ops/conv.cpp) ----
  // Operands are contiguous, x is [N,C,H,W], cols is [N, C*KH*KW, OH*OW]
  // (row c*KH*KW + kh*KW + kw), padding reads as zeros: PyTorch's im2col.
  void (*im2col)(const Tensor& cols, const Tensor& x, const ConvGeometry& g) = nullptr;
  // The adjoint of im2col: x = the sum of cols over the positions each x element feeds.
  void (*col2im)(const Tensor& x, const Tensor& cols, const ConvGeometry& g) = nullptr;
  // Direct grouped convolution without bias (no im2col buffer): out [N,Cout,OH,OW]
  // from x [N,Cin,H,W] and w [Cout, Cin/groups, KH, KW]; contiguous operands.
  void (*conv2d_direct)(const Tensor& out, const Tensor& x, const Tensor& w,
                        const ConvGeometry& g) = nullptr;
  // Its fused backward (contiguous operands, results overwritten): grad_x
  // [N,Cin,H,W] from grad_out and w, grad_w [Cout,Cin/groups,KH,KW] from grad_out and x.
  void (*conv2d_direct_backward_input)(const Tensor& grad_x, const Tensor& grad_out,
                                       const Tensor& w, const ConvGeometry& g) = nullptr;
  void (*conv2d_direct_backward_weight)(const Tensor& grad_w, const Tensor& grad_out,
                                        const Tensor& x, const ConvGeometry& g) = nullptr;

  // ---- activation, select, reduction, sampling (ops/elementwise_select.cpp,
  // ops/reduction.cpp, ops/sampling.cpp) ----
  // out[i] = cond[i] ? a[i] : b[i]; cond is bool, all views with out's shape.
  void (*where)(const Tensor& out, const Tensor& cond, const Tensor& a, const Tensor& b) = nullptr;
  // Inclusive prefix sum of `in` along dim into out (contiguous, in's shape);
  // reverse sums from the end (the adjoint, used by the backward).
  void (*cumsum)(const Tensor& out, const Tensor& in, int64_t dim, bool reverse) = nullptr;
  // Draws out [R,S] (int64) category indices from each row of probs [R,C]
  // (contiguous; finite and non-negative with enough non-zero mass: the ops
  // layer checks CPU rows, a device's kernel checks its own and reports a bad
  // row at the next synchronisation, its draws still in [0, C)) under seed: with
  // replacement draw r*S+s uses Philox counter offset + r*S + s; without,
  // category c of row r has counter offset + r*C + c (its random key).
  void (*multinomial)(const Tensor& out, const Tensor& probs, bool replacement, uint64_t seed,
                      uint64_t offset) = nullptr;
  // The k = values.size(1) largest (or smallest) of each row of in [R,n] (contiguous),
  // sorted, NaN counting as the largest, ties by lower index; values and indices [R,k].
  void (*topk)(const Tensor& values, const Tensor& indices, const Tensor& in,
               bool largest) = nullptr;

  // ---- optimizers (ops/adam_step.cpp) ----
  // Fused Adam/AdamW step (AdamStepArgs): param, exp_avg and exp_avg_sq are
  // updated in place from grad; all four contiguous with one shape.
  void (*adam_step)(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                    const Tensor& exp_avg_sq, const AdamStepArgs& args) = nullptr;
};

// Every slot of KernelTable, in declaration order: the one list that code
// walking the table (missing_kernels, the coverage tests) expands, so a slot
// added above and not here fails the size check in core/kernels.cpp.
#define LG_KERNEL_SLOTS(X)                                                                   \
  X(fill) X(copy) X(unary) X(activation_backward) X(binary) X(reduce) X(arg_reduce)          \
  X(matmul) X(linear) X(uniform) X(normal) X(dropout_mask) X(all_finite) X(layer_norm)       \
  X(layer_norm_backward) X(index_select) X(index_add) X(gather) X(scatter_add) X(softmax)    \
  X(softmax_backward) X(cross_entropy) X(cross_entropy_backward) X(pick_class)               \
  X(pick_class_backward) X(ctc_loss) X(attention_forward) X(attention_backward) X(im2col)    \
  X(col2im) X(conv2d_direct) X(conv2d_direct_backward_input)                                 \
  X(conv2d_direct_backward_weight) X(where) X(cumsum) X(multinomial) X(topk) X(adam_step)

#define LG_KERNEL_SLOT_COUNT_ONE(slot) +1
inline constexpr size_t kKernelSlotCount = 0 LG_KERNEL_SLOTS(LG_KERNEL_SLOT_COUNT_ONE);
#undef LG_KERNEL_SLOT_COUNT_ONE

// The slots' names, in declaration order (LG_KERNEL_SLOTS).
std::vector<std::string> kernel_slot_names();

// A tensor seen around one dim as [outer, n, inner] (softmax-like kernels of
// every backend walk it so); a 0-d tensor is [1, 1, 1].
struct DimSplit {
  int64_t outer = 1, n = 1, inner = 1;
};
inline DimSplit split_at_dim(const Tensor& t, int64_t dim) {
  DimSplit s;
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (d < dim) s.outer *= t.shape()[d];
    if (d > dim) s.inner *= t.shape()[d];
  }
  s.n = t.dim() == 0 ? 1 : t.shape()[dim];
  return s;
}

// The accumulator of a sum kernel over T, on every backend: double for
// floating types, the unsigned type for integers (unsigned overflow wraps
// modulo 2^64 where signed overflow would be undefined behaviour, and the
// conversion back to T gives PyTorch's two's-complement wrap-around).
template <typename T>
using SumAccumulator = typename std::conditional_t<std::is_floating_point_v<T>,
                                                   std::type_identity<double>,
                                                   std::make_unsigned<T>>::type;

// Per device (not per dtype): moving bytes across devices, waiting for the
// device, and its allocator's cache (the public lg::cuda calls reach the CUDA
// backend through these, so the layers above need no CUDA symbols).
struct DeviceKernels {
  // Copies src into dst: same dtype and shape, both contiguous, one of them on
  // this device type and the other on the CPU or another device of this type.
  void (*copy_across_devices)(const Tensor& dst, const Tensor& src) = nullptr;
  void (*synchronize)() = nullptr;  // waits for all work queued on the current device
  // The rest take a device index (of this type), checked by the backend.
  void (*synchronize_device)(int index) = nullptr;
  // Returns the allocator's cached free blocks to the driver, and how many
  // bytes those blocks hold now.
  void (*empty_cache)(int index) = nullptr;
  size_t (*cached_bytes)(int index) = nullptr;
  int (*current_device)() = nullptr;  // the calling thread's current device
  void (*set_device)(int index) = nullptr;
};

void register_kernels(DeviceType device, DType dtype, const KernelTable& table);
void register_device_kernels(DeviceType device, const DeviceKernels& kernels);
const KernelTable& kernel_table(Device device, DType dtype);
const DeviceKernels& device_kernels(Device device);
bool has_kernels(DeviceType device);

// t itself if contiguous, else a contiguous copy made by its device's copy
// kernel: for backends, which must not call ops (Tensor::contiguous is an op).
Tensor contiguous_copy(const Tensor& t);

// The names of the slots (LG_KERNEL_SLOTS) that device's table for dtype
// leaves empty, in declaration order; throws like kernel_table if the device
// has no kernels registered.
std::vector<std::string> missing_kernels(Device device, DType dtype);

// Fetches one kernel, throwing "op: not implemented for float32 on cuda:0 (that
// table lacks 12 of the 38 kernels)" if absent.
template <typename Fn>
Fn kernel(Fn KernelTable::*member, Device device, DType dtype, const char* op) {
  Fn fn = kernel_table(device, dtype).*member;
  LG_CHECK(fn != nullptr, op, ": not implemented for ", dtype_name(dtype), " on ", device.str(),
           " (that table lacks ", missing_kernels(device, dtype).size(), " of the ",
           kKernelSlotCount, " kernels)");
  return fn;
}

namespace detail {
// Names the op a kernel runs for, for errors a backend reports later than the
// call (the CUDA kernels' device-side checks, raised at the next
// synchronisation): embedding calls the index_select kernel, and its error
// should say "embedding". Thread-local; the innermost one wins.
class ReportAs {
 public:
  explicit ReportAs(const char* op);  // op: a string literal, kept by pointer
  ~ReportAs();
  ReportAs(const ReportAs&) = delete;
  ReportAs& operator=(const ReportAs&) = delete;

 private:
  const char* outer_;
};
// The innermost ReportAs's op on this thread, or `fallback` where none is open.
const char* reported_op(const char* fallback);

// Guards a table that is written at start-up and read without a lock after
// (kernel tables, allocators): writers serialise on the mutex, and a write
// once a lookup has run is refused, since it would race with those lock-free
// reads. Lookups run detail::ensure_initialized() (lg::init, which does the
// writes) first.
class StartupOnlyTable {
 public:
  explicit StartupOnlyTable(const char* what) : what_(what) {}
  // Locks for a write by `writer`; throws lg::Error once the table is in use.
  std::unique_lock<std::mutex> lock_for_write(const char* writer) {
    std::unique_lock<std::mutex> lock(mutex_);
    LG_CHECK(!in_use_.load(std::memory_order_relaxed), writer, ": the ", what_,
             " are fixed once the library has started (the first op or lookup); register at "
             "start-up, before any tensor is made");
    return lock;
  }
  // Called by each lookup: a plain load after the first, so cheap on hot paths.
  void mark_in_use() {
    if (!in_use_.load(std::memory_order_relaxed)) in_use_.store(true, std::memory_order_relaxed);
  }

 private:
  std::mutex mutex_;
  std::atomic<bool> in_use_{false};
  const char* what_;
};

}  // namespace detail

}  // namespace lg
