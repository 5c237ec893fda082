#include "kernels.h"

#include <lasergrad/runtime.h>

#include <array>

#include "hooks.h"

namespace lg {
namespace {
using Tables = std::array<std::array<KernelTable, kNumDTypes>, kNumDeviceTypes>;
Tables& tables() {
  static Tables t;
  return t;
}
std::array<DeviceKernels, kNumDeviceTypes>& device_tables() {
  static std::array<DeviceKernels, kNumDeviceTypes> t;
  return t;
}
std::array<bool, kNumDeviceTypes>& registered() {
  static std::array<bool, kNumDeviceTypes> r{};
  return r;
}
// Both kinds of table: backends fill them at start-up, ops read them after.
detail::StartupOnlyTable& guard() {
  static detail::StartupOnlyTable g("kernel tables");
  return g;
}
std::atomic<bool> tf32_allowed{false};
}  // namespace

// Here in core, below the backends whose matrix-product kernels read it.
void set_allow_tf32(bool allow) { tf32_allowed.store(allow, std::memory_order_relaxed); }
bool allow_tf32() { return tf32_allowed.load(std::memory_order_relaxed); }

const char* op_name(UnaryOp op) {
  static const char* names[] = {"neg",  "exp",  "log",       "sqrt", "abs",      "tanh", "sigmoid",
                                "relu", "gelu", "gelu_tanh", "silu", "softplus", "erf"};
  static_assert(std::size(names) == static_cast<size_t>(UnaryOp::Count));
  return names[static_cast<int>(op)];
}

const char* op_name(BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum",
                                "eq",  "ne",  "lt",  "le",  "gt",  "ge"};
  return names[static_cast<int>(op)];
}

// Every slot is a function pointer, so a table is exactly that many pointers
// when LG_KERNEL_SLOTS names them all.
static_assert(sizeof(KernelTable) == kKernelSlotCount * sizeof(void (*)()),
              "LG_KERNEL_SLOTS in core/kernels.h must list every KernelTable member");

std::vector<std::string> kernel_slot_names() {
  std::vector<std::string> names;
#define LG_NAME_SLOT(slot) names.emplace_back(#slot);
  LG_KERNEL_SLOTS(LG_NAME_SLOT)
#undef LG_NAME_SLOT
  return names;
}

std::vector<std::string> missing_kernels(Device device, DType dtype) {
  const KernelTable& table = kernel_table(device, dtype);
  std::vector<std::string> missing;
#define LG_NOTE_MISSING(slot) \
  if (table.slot == nullptr) missing.emplace_back(#slot);
  LG_KERNEL_SLOTS(LG_NOTE_MISSING)
#undef LG_NOTE_MISSING
  return missing;
}

void register_kernels(DeviceType device, DType dtype, const KernelTable& table) {
  auto lock = guard().lock_for_write("register_kernels");
  tables()[static_cast<size_t>(device)][static_cast<size_t>(dtype)] = table;
  registered()[static_cast<size_t>(device)] = true;
}

void register_device_kernels(DeviceType device, const DeviceKernels& kernels) {
  auto lock = guard().lock_for_write("register_device_kernels");
  device_tables()[static_cast<size_t>(device)] = kernels;
}

bool has_kernels(DeviceType device) {
  detail::ensure_initialized();
  guard().mark_in_use();
  return registered()[static_cast<size_t>(device)];
}

const KernelTable& kernel_table(Device device, DType dtype) {
  detail::ensure_initialized();
  guard().mark_in_use();
  LG_CHECK(registered()[static_cast<size_t>(device.type)], "no kernels registered for device ",
           device.str(), " (backend not built or no device present)");
  return tables()[static_cast<size_t>(device.type)][static_cast<size_t>(dtype)];
}

const DeviceKernels& device_kernels(Device device) {
  detail::ensure_initialized();
  guard().mark_in_use();
  return device_tables()[static_cast<size_t>(device.type)];
}

namespace detail {
namespace {
thread_local const char* current_report_as = nullptr;
}
ReportAs::ReportAs(const char* op) : outer_(current_report_as) { current_report_as = op; }
ReportAs::~ReportAs() { current_report_as = outer_; }
const char* reported_op(const char* fallback) {
  return current_report_as ? current_report_as : fallback;
}
}  // namespace detail

Tensor contiguous_copy(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor c = Tensor::empty(t.shape(), t.dtype(), t.device());
  kernel(&KernelTable::copy, t.device(), t.dtype(), "contiguous")(c, t);
  return c;
}

}  // namespace lg
