// lg::distributed's state and collectives: the single-process identity, the
// check that all ranks make the same call, and the dispatch to MPI (CPU
// tensors) or NCCL (CUDA tensors, LG_WITH_NCCL).
#include "lasergrad/distributed/distributed.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "distributed/launch_env.h"
#include "distributed/mpi_transport.h"
#include "distributed/signature.h"
#include "distributed/wait.h"
#include "lasergrad/core/error.h"
#include "lasergrad/core/grad_mode.h"
#ifdef LG_WITH_NCCL
#include "distributed/nccl_transport.h"
#endif

namespace lg::distributed {
namespace {

struct Context {
  bool initialized = false;
  bool mpi = false;  // MPI started and not yet finalized
  bool finalized = false;
  int rank = 0;
  int size = 1;
  int local_rank = 0;
  double timeout_s = 300;
};

Context& context() {
  static Context c;
  return c;
}

const char* process_env(const char* name) { return std::getenv(name); }

// True when op has other ranks to talk to; false where it is the identity.
bool communicating(const char* op) {
  const Context& c = context();
  LG_CHECK(!(c.finalized && c.size > 1), "distributed::", op, ": called after finalize()");
  return c.mpi && c.size > 1;
}

detail::Wire wire(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return detail::Wire::Float32;
    case DType::Float64:
      return detail::Wire::Float64;
    case DType::Int64:
      return detail::Wire::Int64;
    case DType::Bool:
      return detail::Wire::Byte;
  }
  return detail::Wire::Byte;
}

// Why this rank's all_reduce of t cannot run ("" when it can).
std::string reduce_problem(const char* op, const Tensor& t, ReduceOp reduce, bool multi) {
  std::ostringstream why;
  if (!t.defined()) {
    why << op << ": the tensor is undefined";
  } else if (t.dtype() == DType::Bool) {
    why << op << ": needs float32, float64 or int64, got " << t.describe();
  } else if (reduce == ReduceOp::Mean && !is_floating(t.dtype())) {
    why << op << ": Mean needs float32 or float64, got " << t.describe() << " (use Sum)";
  } else if (multi && t.device().is_cuda() && !built_with_nccl()) {
    why << op << ": " << t.describe()
        << " needs NCCL, which this build lacks (LG_WITH_CUDA with nccl.h in the CUDA toolkit)";
  }
  return why.str();
}

detail::Call tensor_call(const char* op, const Tensor& t, int64_t extra, std::string problem) {
  detail::Call call{op, std::move(problem), 0, 0, 0, extra, {}};
  if (!t.defined()) return call;
  call.numel = t.numel();
  call.dtype = static_cast<int64_t>(t.dtype());
  call.device = static_cast<int64_t>(t.device().type);
  call.here = std::string(dtype_name(t.dtype())) + shape_str(t.shape()) + " (" +
              std::to_string(t.numel()) + " elements) on " + t.device().str();
  return call;
}

std::string root_problem(const char* op, int root) {
  if (root >= 0 && root < world_size()) return "";
  return std::string(op) + ": root " + std::to_string(root) + " is not a rank (world size " +
         std::to_string(world_size()) + ")";
}

void divide(const Tensor& t, int n) {
  visit_dtype(t.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_floating_point_v<T>) {
      T* p = static_cast<T*>(t.raw_data());
      const T divisor = static_cast<T>(n);
      for (int64_t i = 0; i < t.numel(); ++i) p[i] /= divisor;
    }
  });
}

// Runs f on t's memory, or on a contiguous copy that is written back; then
// marks t modified. Raw writes, outside autograd, as for a parameter.
template <typename F>
void in_place(Tensor& t, F&& f) {
  NoGradGuard no_grad;
  if (t.is_contiguous()) {
    f(t);
    t.bump_version();
  } else {
    Tensor c = t.contiguous();
    f(c);
    t.copy_(c);
  }
}

std::function<bool()> mpi_poll(detail::RequestsPtr requests) {
  std::shared_ptr<detail::Requests> shared(std::move(requests));
  return [shared] { return detail::mpi_test(*shared); };
}

// Starts the all_reduce of contiguous t; the poll says when t holds the result
// (Mean: the sum on MPI, which the caller divides).
std::function<bool()> start_all_reduce(const Tensor& t, ReduceOp op) {
#ifdef LG_WITH_NCCL
  if (t.device().is_cuda()) return detail::nccl_all_reduce_start(t, op);
#endif
  return mpi_poll(detail::mpi_iallreduce(t.raw_data(), t.numel(), wire(t.dtype()), op));
}

// Alone: throws this rank's problem, if any, and there is nothing to send.
// Otherwise every rank agrees on the call (throwing alike on a mismatch);
// true when there are elements to send.
bool agreed_nonempty(const detail::Call& call, bool multi, const Tensor& t) {
  if (!multi) {
    LG_CHECK(call.problem.empty(), call.problem);
    return false;
  }
  detail::agree(call);
  return t.numel() > 0;
}

bool mean_on_host(const Tensor& t, ReduceOp op) {
  return op == ReduceOp::Mean && t.device().is_cpu();
}

}  // namespace

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
      return "Sum";
    case ReduceOp::Mean:
      return "Mean";
    case ReduceOp::Max:
      return "Max";
  }
  return "?";
}

void init(InitOptions options) {
  Context& c = context();
  if (c.initialized) return;
  LG_CHECK(!c.finalized, "distributed::init: called after finalize() (MPI cannot start again)");
  const detail::LaunchInfo info = detail::launch_info(process_env);
  c.timeout_s = detail::timeout_from(options.timeout_s, process_env);
  if (info.launched && !detail::mpi_compiled()) {
    LG_CHECK(!detail::needs_mpi(info), "distributed::init: started by mpirun with ",
             info.world_size > 0 ? std::to_string(info.world_size) : std::string("several"),
             " ranks, but lasergrad was built without MPI: install libopenmpi-dev and rebuild");
  } else if (info.launched) {
    detail::mpi_start(c.rank, c.size);
    c.mpi = true;
    c.local_rank = info.local_rank;
    std::atexit([] { finalize(); });
  }
  c.initialized = true;
}

bool is_initialized() { return context().initialized; }
bool built_with_mpi() { return detail::mpi_compiled(); }
bool built_with_nccl() {
#ifdef LG_WITH_NCCL
  return true;
#else
  return false;
#endif
}
int rank() { return context().rank; }
int world_size() { return context().size; }
int local_rank() { return context().local_rank; }
double timeout_seconds() { return context().timeout_s; }

void all_reduce(Tensor& t, ReduceOp op) {
  const bool multi = communicating("all_reduce");
  detail::Call call = tensor_call("all_reduce", t, static_cast<int64_t>(op),
                                  reduce_problem("all_reduce", t, op, multi));
  if (!agreed_nonempty(call, multi, t)) return;
  in_place(t, [&](const Tensor& c) {
    detail::wait_until(start_all_reduce(c, op), "all_reduce");
    if (mean_on_host(c, op)) divide(c, world_size());
  });
}

void broadcast(Tensor& t, int root) {
  const bool multi = communicating("broadcast");
  std::string problem = t.defined() ? root_problem("broadcast", root)
                                    : std::string("broadcast: the tensor is undefined");
  if (problem.empty() && multi && t.device().is_cuda() && !built_with_nccl())
    problem = "broadcast: " + t.describe() + " needs NCCL, which this build lacks";
  detail::Call call = tensor_call("broadcast", t, root, problem);
  if (!agreed_nonempty(call, multi, t)) return;
  in_place(t, [&](const Tensor& c) {
#ifdef LG_WITH_NCCL
    if (c.device().is_cuda()) {
      detail::wait_until(detail::nccl_broadcast_start(c, root), "broadcast");
      return;
    }
#endif
    const int64_t nbytes = c.numel() * static_cast<int64_t>(element_size(c.dtype()));
    detail::wait_until(mpi_poll(detail::mpi_ibcast(c.raw_data(), nbytes, root)), "broadcast");
  });
}

void barrier() {
  if (!communicating("barrier")) return;
  detail::wait_until(mpi_poll(detail::mpi_ibarrier()), "barrier");
}

std::vector<double> all_reduce(std::vector<double> values, ReduceOp op) {
  if (!communicating("all_reduce")) return values;
  const auto n = static_cast<int64_t>(values.size());
  detail::agree({"all_reduce", "", n, static_cast<int64_t>(DType::Float64), 0,
                 static_cast<int64_t>(op), "float64 values (" + std::to_string(n) + ")"});
  if (n == 0) return values;
  detail::wait_until(mpi_poll(detail::mpi_iallreduce(values.data(), n, detail::Wire::Float64, op)),
                     "all_reduce");
  if (op == ReduceOp::Mean)
    for (double& v : values) v /= world_size();
  return values;
}

std::string broadcast_bytes(std::string bytes, int root) {
  const bool multi = communicating("broadcast_bytes");
  const std::string problem = root_problem("broadcast_bytes", root);
  if (!multi) {
    LG_CHECK(problem.empty(), problem);
    return bytes;
  }
  detail::agree({"broadcast_bytes", problem, 0, 0, 0, root, "bytes"});
  int64_t size = static_cast<int64_t>(bytes.size());
  detail::wait_until(mpi_poll(detail::mpi_ibcast(&size, sizeof size, root)), "broadcast_bytes");
  bytes.resize(static_cast<size_t>(size));
  detail::wait_until(mpi_poll(detail::mpi_ibcast(bytes.data(), size, root)), "broadcast_bytes");
  return bytes;
}

void check_same_across_ranks(const std::vector<int64_t>& signature, const std::string& what) {
  if (!communicating("check_same_across_ranks")) return;
  detail::check_same(signature, what);
}

struct Work::State {
  Tensor tensor;
  ReduceOp op = ReduceOp::Sum;
  std::function<bool()> poll;  // true once the transfer is complete
  bool done = false;
  double waited_s = 0;
};

Work::Work() = default;
Work::Work(std::unique_ptr<State> state) : state_(std::move(state)) {}
Work::Work(Work&&) noexcept = default;
Work& Work::operator=(Work&& other) noexcept {
  if (this != &other) {
    Work finished_first(std::move(*this));
    state_ = std::move(other.state_);
  }
  return *this;
}

Work::~Work() {
  if (!state_ || state_->done) return;
  try {
    wait();
  } catch (const std::exception& e) {
    abort(1, std::string("all_reduce_async: ") + e.what());
  }
}

bool Work::test() {
  if (!state_ || state_->done) return true;
  if (!state_->poll()) return false;
  if (mean_on_host(state_->tensor, state_->op)) divide(state_->tensor, world_size());
  state_->tensor.bump_version();
  state_->done = true;
  return true;
}

void Work::wait() {
  if (!state_ || state_->done) return;
  state_->waited_s += detail::wait_until([this] { return test(); }, "all_reduce_async");
}

double Work::waited_seconds() const { return state_ ? state_->waited_s : 0; }

Work all_reduce_async(Tensor t, ReduceOp op) {
  const bool multi = communicating("all_reduce_async");
  std::string problem = reduce_problem("all_reduce_async", t, op, multi);
  if (problem.empty() && !t.is_contiguous())
    problem = "all_reduce_async: needs a contiguous tensor, got " + t.describe() + " (strides " +
              shape_str(t.strides()) + ")";
  LG_CHECK(problem.empty(), problem);
  if (!multi || t.numel() == 0) return Work();
  auto state = std::make_unique<Work::State>();
  state->poll = start_all_reduce(t, op);
  state->tensor = std::move(t);
  state->op = op;
  return Work(std::move(state));
}

void abort(int exit_code, const std::string& why) {
  std::fflush(stdout);
  std::fprintf(stderr, "lasergrad: rank %d: %s\n", rank(), why.c_str());
  std::fflush(stderr);
  if (context().mpi) detail::mpi_abort(exit_code);
  std::_Exit(exit_code);
}

void finalize() {
  Context& c = context();
  if (!c.initialized) return;
  if (c.mpi) {
#ifdef LG_WITH_NCCL
    detail::nccl_stop();
#endif
    detail::mpi_stop();
    c.mpi = false;
  }
  c.initialized = false;
  c.finalized = true;
}

}  // namespace lg::distributed
