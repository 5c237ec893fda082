// Per-device state of the CUDA backend: each device's stream, its
// device-side error flag, its pinned staging buffers for host -> device
// copies, and the DeviceScope that every kernel entry opens.
#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "cuda_backend.h"
#include "cuda_internal.h"

namespace lg::cuda {
namespace {

// Four 4 MiB buffers: a big upload streams through them, the host filling one
// while the copy engine drains another.
constexpr int kStagingBuffers = 4;
constexpr size_t kStagingBytes = size_t{4} << 20;

struct StagingBuffer {
  void* pinned = nullptr;
  cudaEvent_t copied = nullptr;  // recorded after the copy out of `pinned`
};

struct DeviceContext {
  std::once_flag created;
  cudaStream_t stream = nullptr;
  DeviceError* flag = nullptr;       // device memory, written by kernels
  DeviceError* flag_host = nullptr;  // pinned, where the host reads it
  std::mutex flag_mutex;             // flag_host is shared by the host threads
  std::mutex staging_mutex;
  std::array<StagingBuffer, kStagingBuffers> staging{};
  size_t next_staging = 0;
};

// Never destroyed: tensors in static storage may be freed, and their blocks
// ordered on a stream, after other statics are gone.
std::array<DeviceContext, kMaxDevicesPerType>& contexts() {
  static auto* all = new std::array<DeviceContext, kMaxDevicesPerType>();
  return *all;
}

// The device's context, created on first use; `device` must be current (a
// DeviceScope for it is open) so that the stream and flag are made on it.
DeviceContext& context(int device) {
  DeviceContext& c = contexts()[static_cast<size_t>(device)];
  std::call_once(c.created, [&] {
    const char* op = "cuda device start-up";
    check(cudaStreamCreateWithFlags(&c.stream, cudaStreamNonBlocking), op,
          "cudaStreamCreateWithFlags");
    check(cudaMalloc(reinterpret_cast<void**>(&c.flag), sizeof(DeviceError)), op, "cudaMalloc");
    check(cudaMemsetAsync(c.flag, 0, sizeof(DeviceError), c.stream), op, "cudaMemsetAsync");
    check(cudaHostAlloc(reinterpret_cast<void**>(&c.flag_host), sizeof(DeviceError),
                        cudaHostAllocDefault),
          op, "cudaHostAlloc");
    std::memset(c.flag_host, 0, sizeof(DeviceError));
  });
  return c;
}

thread_local const DeviceScope* innermost_scope = nullptr;

std::mutex& op_names_mutex() {
  static std::mutex m;
  return m;
}
std::vector<const char*>& op_names() {
  static auto* names = new std::vector<const char*>();
  return *names;
}
const char* op_name(int id) {
  std::lock_guard<std::mutex> lock(op_names_mutex());
  return id >= 0 && static_cast<size_t>(id) < op_names().size() ? op_names()[id] : "a CUDA kernel";
}

// What a report says of its bad value, by kind: "index 7 out of range [0, 5)".
std::string found_value(const DeviceError& e) {
  std::ostringstream os;
  switch (e.found) {
    case kFoundTarget:
      os << "target " << e.value << " (at flat index " << e.at << ") out of range [" << e.lo << ", "
         << e.hi << ") and not ignore_index";
      break;
    case kFoundInputLength:
    case kFoundTargetLength:
      os << (e.found == kFoundInputLength ? "input length " : "target length ") << e.value
         << " of sample " << e.at << " out of range [" << e.lo << ", " << e.hi << "]";
      break;
    case kFoundLabel:
      os << "target " << e.value << " of sample " << e.at << " out of range [" << e.lo << ", "
         << e.hi << ") or the blank";
      break;
    case kFoundProbability:
      os << "row " << e.at << " of probs has a negative, NaN or infinite value (at column "
         << e.value << ")";
      break;
    case kFoundZeroRow:
      os << "row " << e.at << " of probs sums to 0";
      break;
    case kFoundFewCategories:
      os << "row " << e.at << " of probs has fewer categories with non-zero probability ("
         << e.value << ") than the " << e.lo << " samples to draw without replacement";
      break;
    default:
      os << "index " << e.value << " out of range [" << e.lo << ", " << e.hi << ")";
  }
  return os.str();
}

}  // namespace

void check_device_index(const char* op, int device) {
  const int count = cuda_backend_device_count();
  LG_CHECK(device >= 0 && device < count, op, ": device cuda:", device, " does not exist (", count,
           count == 1 ? " CUDA device)" : " CUDA devices)");
}

int current_device(const char* op) {
  int device = 0;
  check(cudaGetDevice(&device), op, "cudaGetDevice");
  return device;
}

cudaStream_t device_stream(int device) { return context(device).stream; }

int op_id(const char* op) {
  std::lock_guard<std::mutex> lock(op_names_mutex());
  std::vector<const char*>& names = op_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == op || std::strcmp(names[i], op) == 0) return static_cast<int>(i);
  names.push_back(op);
  return static_cast<int>(names.size() - 1);
}

DeviceScope::DeviceScope(const char* op, std::initializer_list<const Tensor*> tensors) : op_(op) {
  const Tensor* first = tensors.size() ? *tensors.begin() : nullptr;
  for (const Tensor* t : tensors) {
    LG_CHECK(t->device().is_cuda(), op, ": the CUDA backend got a tensor on ", t->device().str(),
             ": ", t->describe());
    LG_CHECK(t->device() == first->device(), op, ": tensors on different devices, ",
             first->device().str(), " and ", t->device().str(), " (", first->describe(), " and ",
             t->describe(), "); move them to one device first");
  }
  enter(first ? first->device().index : current_device(op));
}

DeviceScope::DeviceScope(const char* op, int device) : op_(op) { enter(device); }

void DeviceScope::enter(int device) {
  check_device_index(op_, device);
  check(cudaGetDevice(&previous_), op_, "cudaGetDevice");
  if (previous_ != device) check(cudaSetDevice(device), op_, "cudaSetDevice");
  device_ = device;
  stream_ = device_stream(device);
  outer_ = innermost_scope;
  innermost_scope = this;
}

DeviceScope::~DeviceScope() {
  innermost_scope = outer_;
  // Restoring the caller's device cannot fail in a way worth throwing from a
  // destructor: the device was current a moment ago.
  if (previous_ != device_) cudaSetDevice(previous_);
}

DeviceError* DeviceScope::error_flag() const { return context(device_).flag; }

int DeviceScope::report_id() const { return op_id(detail::reported_op(op_)); }

const DeviceScope& DeviceScope::current(const char* what) {
  LG_CHECK(innermost_scope != nullptr, what,
           ": CUDA work outside a DeviceScope (it would miss the device's stream)");
  return *innermost_scope;
}

void synchronize_and_check(int device, const char* op) {
  DeviceContext& c = context(device);
  std::lock_guard<std::mutex> lock(c.flag_mutex);
  check(cudaMemcpyAsync(c.flag_host, c.flag, sizeof(DeviceError), cudaMemcpyDeviceToHost, c.stream),
        op, "cudaMemcpyAsync");
  check(cudaStreamSynchronize(c.stream), op, "cudaStreamSynchronize");
  if (c.flag_host->found == 0) return;
  const DeviceError e = *c.flag_host;
  c.flag_host->found = 0;
  check(cudaMemsetAsync(c.flag, 0, sizeof(DeviceError), c.stream), op, "cudaMemsetAsync");
  detail::fail(op_name(e.op), ": ", found_value(e), " on cuda:", device,
               " (reported at the next synchronisation, ", op, ")");
}

void upload(const DeviceScope& scope, void* dst, const void* src, size_t nbytes) {
  DeviceContext& c = context(scope.device());
  std::lock_guard<std::mutex> lock(c.staging_mutex);
  for (size_t done = 0; done < nbytes;) {
    StagingBuffer& b = c.staging[c.next_staging++ % kStagingBuffers];
    if (b.pinned == nullptr) {
      check(cudaHostAlloc(&b.pinned, kStagingBytes, cudaHostAllocDefault), scope.op(),
            "cudaHostAlloc");
      check(cudaEventCreateWithFlags(&b.copied, cudaEventDisableTiming), scope.op(),
            "cudaEventCreateWithFlags");
    }
    // The buffer's previous copy must have left it before the host refills it.
    check(cudaEventSynchronize(b.copied), scope.op(), "cudaEventSynchronize");
    const size_t n = std::min(kStagingBytes, nbytes - done);
    std::memcpy(b.pinned, static_cast<const char*>(src) + done, n);
    check(cudaMemcpyAsync(static_cast<char*>(dst) + done, b.pinned, n, cudaMemcpyHostToDevice,
                          scope.stream()),
          scope.op(), "cudaMemcpyAsync");
    check(cudaEventRecord(b.copied, scope.stream()), scope.op(), "cudaEventRecord");
    done += n;
  }
}

}  // namespace lg::cuda
