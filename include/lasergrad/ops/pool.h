// Pooling: max_pool1d/2d and avg_pool1d/2d (kernel, stride, padding; dilation
// for max), as torch.nn.functional's, composed of differentiable conv ops.
#pragma once
#include <array>
#include <cstdint>

#include "../core/tensor.h"

namespace lg {

// A stride of 0 means the kernel size (PyTorch's stride=None).
struct MaxPool1dOptions {
  int64_t stride = 0;
  int64_t padding = 0;
  int64_t dilation = 1;
};
struct MaxPool2dOptions {
  std::array<int64_t, 2> stride = {0, 0};
  std::array<int64_t, 2> padding = {0, 0};
  std::array<int64_t, 2> dilation = {1, 1};
};
struct AvgPool1dOptions {
  int64_t stride = 0;
  int64_t padding = 0;
  bool count_include_pad = true;  // divide by the kernel size, padding included
};
struct AvgPool2dOptions {
  std::array<int64_t, 2> stride = {0, 0};
  std::array<int64_t, 2> padding = {0, 0};
  bool count_include_pad = true;
};

// x [N, C, L] or [C, L]; padding at most half the (dilated) kernel, as PyTorch.
Tensor max_pool1d(const Tensor& x, int64_t kernel_size, const MaxPool1dOptions& options = {});
Tensor avg_pool1d(const Tensor& x, int64_t kernel_size, const AvgPool1dOptions& options = {});
// x [N, C, H, W] or [C, H, W].
Tensor max_pool2d(const Tensor& x, std::array<int64_t, 2> kernel_size,
                  const MaxPool2dOptions& options = {});
Tensor avg_pool2d(const Tensor& x, std::array<int64_t, 2> kernel_size,
                  const AvgPool2dOptions& options = {});

}  // namespace lg
