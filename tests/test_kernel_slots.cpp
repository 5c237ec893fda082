// The kernel-table slot list (LG_KERNEL_SLOTS) against KernelTable itself, and
// which slots the CPU backend leaves empty per dtype: a kernel that stops
// being registered, or one added without updating the list, fails here.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include <sstream>
#include <string>
#include <vector>

#include "core/kernels.h"

using namespace lg;

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::ostringstream os;
  for (size_t i = 0; i < names.size(); ++i) os << (i ? " " : "") << names[i];
  return os.str();
}

}  // namespace

TEST_CASE("LG_KERNEL_SLOTS names every KernelTable member once") {
  static_assert(sizeof(KernelTable) == kKernelSlotCount * sizeof(void (*)()));
  const std::vector<std::string> names = kernel_slot_names();
  CHECK(names.size() == kKernelSlotCount);
  CHECK(names.size() * sizeof(void (*)()) == sizeof(KernelTable));
  for (size_t i = 0; i < names.size(); ++i)
    for (size_t j = i + 1; j < names.size(); ++j) CHECK_MESSAGE(names[i] != names[j], names[i]);
  CHECK(names.front() == "fill");
  CHECK(names.back() == "adam_step");
}

TEST_CASE("the CPU tables leave exactly the expected slots empty") {
  // What backends/cpu registers: every slot for the floating types; integer
  // and bool tables lack the kernels that only make sense on floats.
  const std::vector<std::string> int64_gaps = {"activation_backward",
                                               "matmul",
                                               "linear",
                                               "uniform",
                                               "normal",
                                               "dropout_mask",
                                               "all_finite",
                                               "layer_norm",
                                               "layer_norm_backward",
                                               "softmax",
                                               "softmax_backward",
                                               "cross_entropy",
                                               "cross_entropy_backward",
                                               "pick_class",
                                               "pick_class_backward",
                                               "ctc_loss",
                                               "attention_forward",
                                               "attention_backward",
                                               "im2col",
                                               "col2im",
                                               "conv2d_direct",
                                               "conv2d_direct_backward_input",
                                               "conv2d_direct_backward_weight",
                                               "multinomial",
                                               "adam_step"};
  // bool has fill, copy, binary, index_select, gather and where only.
  std::vector<std::string> bool_gaps;
  for (const std::string& name : kernel_slot_names())
    if (name != "fill" && name != "copy" && name != "binary" && name != "index_select" &&
        name != "gather" && name != "where")
      bool_gaps.push_back(name);
  const std::vector<std::pair<DType, std::vector<std::string>>> expected = {
      {kFloat32, {}}, {kFloat64, {}}, {kInt64, int64_gaps}, {kBool, bool_gaps}};
  for (const auto& [dtype, gaps] : expected) {
    const std::vector<std::string> missing = missing_kernels(Device::cpu(), dtype);
    MESSAGE("cpu ", std::string(dtype_name(dtype)), " lacks ", missing.size(), " of ",
            kKernelSlotCount, ": ", joined(missing));
    CHECK_MESSAGE(missing == gaps, std::string(dtype_name(dtype)), ": got ", joined(missing),
                  "; expected ", joined(gaps));
  }
}

TEST_CASE("a missing kernel's error says how many slots its table lacks") {
  const size_t lacking = missing_kernels(Device::cpu(), kInt64).size();
  const std::string want = "softmax: not implemented for int64 on cpu (that table lacks " +
                           std::to_string(lacking) + " of the " + std::to_string(kKernelSlotCount) +
                           " kernels)";
  try {
    kernel(&KernelTable::softmax, Device::cpu(), kInt64, "softmax");
    FAIL("expected lg::Error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find(want) != std::string::npos);
  }
}
