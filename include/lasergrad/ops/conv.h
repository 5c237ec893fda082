// Convolution: conv1d and conv2d (stride, padding, dilation, groups incl.
// depthwise) and their building blocks im2col/col2im, differentiable to any order.
#pragma once
#include <array>
#include <cstdint>

#include "../core/tensor.h"

namespace lg {

// How conv computes its forward. Auto takes the faster on `lg-bench conv`:
// Direct for depthwise convolution (groups == Cin == Cout), im2col + GEMM
// otherwise. The others exist for tests and benchmarks.
enum class ConvAlgorithm { Auto, Im2col, Direct };

struct Conv1dOptions {
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t dilation = 1;
  int64_t groups = 1;
  ConvAlgorithm algorithm = ConvAlgorithm::Auto;
};

struct Conv2dOptions {
  std::array<int64_t, 2> stride = {1, 1};  // {h, w}
  std::array<int64_t, 2> padding = {0, 0};
  std::array<int64_t, 2> dilation = {1, 1};
  int64_t groups = 1;
  ConvAlgorithm algorithm = ConvAlgorithm::Auto;
};

// x [N, Cin, L] (or unbatched [Cin, L]), weight [Cout, Cin/groups, K], bias [Cout]
// or undefined; result [N, Cout, Lout] with zero padding, as torch.nn.functional.conv1d.
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
              const Conv1dOptions& options = {});
// x [N, Cin, H, W] (or [Cin, H, W]), weight [Cout, Cin/groups, KH, KW], bias [Cout] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
              const Conv2dOptions& options = {});

struct FoldOptions {
  std::array<int64_t, 2> dilation = {1, 1};
  std::array<int64_t, 2> padding = {0, 0};
  std::array<int64_t, 2> stride = {1, 1};
};

// torch.nn.functional.unfold: x [N, C, H, W] -> [N, C*KH*KW, OH*OW], one column per
// window position (zero padding). Its gradient is col2im.
Tensor im2col(const Tensor& x, std::array<int64_t, 2> kernel_size, const FoldOptions& options = {});
// torch.nn.functional.fold, the adjoint of im2col: cols [N, C*KH*KW, OH*OW] ->
// [N, C, H, W] with output_size {H, W}, summing where windows overlap.
Tensor col2im(const Tensor& cols, std::array<int64_t, 2> output_size,
              std::array<int64_t, 2> kernel_size, const FoldOptions& options = {});

}  // namespace lg
