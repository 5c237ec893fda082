// lg-bench conv: conv1d/conv2d forward and forward+backward at speech and
// vision shapes, im2col + GEMM vs direct vs a composite of existing ops.
#include "bench_util.h"

namespace lg::bench {
namespace {

struct Case {
  const char* bench;  // "conv1d" or "conv2d"
  Shape x, w;         // conv1d shapes have H = 1 (x [N,C,1,L], w [Cout,C/g,1,K])
  Conv2dOptions options;
};

// The reference: one matmul per kernel tap on a shifted (strided slice) view
// of the zero-padded input, summed; built only from existing differentiable ops.
Tensor composite_conv(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o) {
  const int64_t N = x.size(0), Cin = x.size(1), Cout = w.size(0), KH = w.size(2), KW = w.size(3);
  const int64_t G = o.groups, cin_g = Cin / G, cout_g = Cout / G;
  Tensor p = x;
  for (int a = 0; a < 2; ++a) {
    if (o.padding[a] == 0) continue;
    Shape zs = p.shape();
    zs[2 + a] = o.padding[a];
    Tensor z = zeros(zs, {.dtype = x.dtype(), .device = x.device()});
    p = cat({z, p, z}, 2 + a);
  }
  const int64_t OH = (p.size(2) - o.dilation[0] * (KH - 1) - 1) / o.stride[0] + 1;
  const int64_t OW = (p.size(3) - o.dilation[1] * (KW - 1) - 1) / o.stride[1] + 1;
  Tensor out;
  for (int64_t kh = 0; kh < KH; ++kh)
    for (int64_t kw = 0; kw < KW; ++kw) {
      int64_t h0 = kh * o.dilation[0], w0 = kw * o.dilation[1];
      Tensor shifted = p.slice(2, h0, h0 + (OH - 1) * o.stride[0] + 1, o.stride[0])
                           .slice(3, w0, w0 + (OW - 1) * o.stride[1] + 1, o.stride[1])
                           .reshape({N, G, cin_g, OH * OW});
      Tensor tap = w.select(3, kw).select(2, kh).reshape({G, cout_g, cin_g});
      Tensor term = matmul(tap, shifted);
      out = out.defined() ? out + term : term;
    }
  out = out.reshape({N, Cout, OH, OW});
  return b.defined() ? out + b.reshape({1, Cout, 1, 1}) : out;
}

// The multiply-adds of the forward (2 FLOPs each): every output element sums
// Cin/groups x KH x KW products. The backward's input and weight gradients
// are as many again each.
double forward_flops(const Case& c) {
  const Conv2dOptions& o = c.options;
  double outputs = static_cast<double>(c.x[0] * c.w[0]);
  for (int a = 0; a < 2; ++a) {
    const int64_t span = o.dilation[a] * (c.w[2 + a] - 1) + 1;
    outputs *= static_cast<double>((c.x[2 + a] + 2 * o.padding[a] - span) / o.stride[a] + 1);
  }
  return 2.0 * outputs * static_cast<double>(c.w[1] * c.w[2] * c.w[3]);
}

void run_case(const Common& common, const Case& c) {
  Device dev = common.target();
  const double flops = dev.is_cuda() ? forward_flops(c) : 0;  // TFLOP/s on the device
  Tensor x = randn(c.x, {.device = dev, .requires_grad = true});
  Tensor w = randn(c.w, {.device = dev, .requires_grad = true});
  Tensor b = randn({c.w[0]}, {.device = dev, .requires_grad = true});
  bool one_d = std::string(c.bench) == "conv1d";
  std::string shape = "x" + shape_string(c.x) + " w" + shape_string(c.w) + " s" +
                      shape_string({c.options.stride[0], c.options.stride[1]}) + " p" +
                      shape_string({c.options.padding[0], c.options.padding[1]}) + " g" +
                      std::to_string(c.options.groups);
  if (one_d) {
    // Report conv1d shapes without the unit height.
    shape = "x" + shape_string({c.x[0], c.x[1], c.x[3]}) + " w" +
            shape_string({c.w[0], c.w[1], c.w[3]}) + " s" + std::to_string(c.options.stride[1]) +
            " p" + std::to_string(c.options.padding[1]) + " g" + std::to_string(c.options.groups);
  }
  struct Impl {
    const char* name;
    std::function<Tensor()> call;
  };
  auto with = [&](ConvAlgorithm algorithm) -> std::function<Tensor()> {
    Conv2dOptions o = c.options;
    o.algorithm = algorithm;
    if (!one_d) return [=] { return conv2d(x, w, b, o); };
    Tensor x1 = x.squeeze(2).detach().requires_grad_(), w1 = w.squeeze(2).detach().requires_grad_();
    Conv1dOptions o1{.stride = o.stride[1],
                     .padding = o.padding[1],
                     .dilation = o.dilation[1],
                     .groups = o.groups,
                     .algorithm = algorithm};
    return [=] { return conv1d(x1, w1, b, o1); };
  };
  std::vector<Impl> impls = {
      {"composite",
       [&] {
         Tensor y = composite_conv(x, w, b, c.options);
         return one_d ? y.squeeze(2) : y;
       }},
      {"im2col", with(ConvAlgorithm::Im2col)},
      {"direct", with(ConvAlgorithm::Direct)},
  };
  Tensor g;
  {
    NoGradGuard no_grad;
    g = randn(impls[1].call().shape(), {.device = dev});
  }
  for (const Impl& impl : impls) {
    double fwd = median_ms(
        [&] {
          NoGradGuard no_grad;
          impl.call();
        },
        common);
    report({.bench = c.bench,
            .impl = impl.name,
            .shape = shape,
            .pass = "fwd",
            .median_ms = fwd,
            .baseline = impl.name == std::string("composite") ? "" : "composite",
            .flops = flops});
  }
  for (const Impl& impl : impls) {
    double both = median_ms([&] { backward({impl.call()}, {g}); }, common);
    report({.bench = c.bench,
            .impl = impl.name,
            .shape = shape,
            .pass = "fwd+bwd",
            .median_ms = both,
            .baseline = impl.name == std::string("composite") ? "" : "composite",
            .flops = 3 * flops});
  }
}

void run(const Common& common, int64_t batch) {
  const int64_t N = batch;
  const std::vector<Case> cases = {
      // Conformer convolution module: depthwise K=31 and a dense K=3 at 144 channels.
      {"conv1d", {N, 144, 1, 400}, {144, 1, 1, 31}, {.padding = {0, 15}, .groups = 144}},
      {"conv1d", {N, 144, 1, 400}, {144, 144, 1, 3}, {.padding = {0, 1}}},
      // lg-speech's front end: two strided 3x3 convs on 3 s of 80 log-mel frames.
      {"conv2d", {N, 1, 300, 80}, {144, 1, 3, 3}, {.stride = {2, 2}, .padding = {1, 1}}},
      {"conv2d", {N, 144, 150, 40}, {144, 144, 3, 3}, {.stride = {2, 2}, .padding = {1, 1}}},
      // ViT patch embedding (32x32 images, 4x4 patches, 192 channels).
      {"conv2d", {N, 3, 32, 32}, {192, 3, 4, 4}, {.stride = {4, 4}}},
      // Small CNN: dense 3x3 and depthwise 3x3.
      {"conv2d", {N, 32, 32, 32}, {64, 32, 3, 3}, {.padding = {1, 1}}},
      {"conv2d", {N, 64, 32, 32}, {64, 1, 3, 3}, {.padding = {1, 1}, .groups = 64}},
  };
  for (const Case& c : cases) run_case(common, c);
}

}  // namespace

Runner setup_conv(CLI::App& cmd) {
  auto batch = std::make_shared<int64_t>(8);
  cmd.add_option("--batch", *batch, "Batch size N of every shape")->capture_default_str();
  return [batch](const Common& common) { run(common, *batch); };
}

}  // namespace lg::bench
