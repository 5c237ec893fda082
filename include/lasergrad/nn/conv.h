// Convolution layers Conv1d and Conv2d: weight [out, in/groups, *kernel] and
// bias [out], PyTorch's names, layout and default initialisation.
#pragma once
#include <array>

#include "../ops/conv.h"
#include "module.h"

namespace lg::nn {

class Conv1d : public Module {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
         const Conv1dOptions& options = {}, bool bias = true);
  Tensor forward(const Tensor& x) const;  // [N, Cin, L] -> [N, Cout, Lout]
  Tensor operator()(const Tensor& x) const { return forward(x); }
  std::string extra_repr() const override;

  int64_t in_channels, out_channels, kernel_size;
  Conv1dOptions options;
  Tensor weight, bias;
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, std::array<int64_t, 2> kernel_size,
         const Conv2dOptions& options = {}, bool bias = true);
  Tensor forward(const Tensor& x) const;  // [N, Cin, H, W] -> [N, Cout, OH, OW]
  Tensor operator()(const Tensor& x) const { return forward(x); }
  std::string extra_repr() const override;

  int64_t in_channels, out_channels;
  std::array<int64_t, 2> kernel_size;
  Conv2dOptions options;
  Tensor weight, bias;
};

}  // namespace lg::nn
