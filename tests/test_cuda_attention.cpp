// The fused float32 CUDA attention kernels (backends/cuda/attention*.cu)
// against the CPU's fused kernels and the composite formulas: output and q, k,
// v gradients of softmax and LASER attention, head dims 16..128, tiles cut
// short, Tq != Tk, causal, masks, packed heads, empty rows and the float32
// cases where the paper's LASER formula underflows. Exits 77 (ctest: skipped)
// without a GPU.
#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>

#include <cmath>
#include <vector>

#include "core/kernels.h"

using namespace lg;

namespace {

const Device kCuda = Device::cuda(0);
const Device kCpu = Device::cpu();
constexpr double kTol = 1e-5;  // relative, and absolute near 0

Tensor gpu(const Tensor& t) { return t.detach().to(kCuda); }

using AttentionFn = Tensor (*)(const Tensor&, const Tensor&, const Tensor&,
                               const AttentionOptions&);

// |got - want| <= tol * (1 + |want|) everywhere; both on the CPU, non-finite
// values must agree exactly.
void check_close(const Tensor& got, const Tensor& want, double tol, const char* what) {
  CAPTURE(what);
  REQUIRE(got.shape() == want.shape());
  const std::vector<double> g = got.to(kCpu).to_vector<double>(),
                            w = want.to(kCpu).to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) {
    const bool same = g[i] == w[i] || (std::isnan(g[i]) && std::isnan(w[i])) ||
                      std::abs(g[i] - w[i]) <= tol * (1 + std::abs(w[i]));
    if (!same) {
      FAIL_CHECK("element " << i << " of " << want.describe() << ": got " << g[i] << ", want "
                            << w[i]);
      return;
    }
  }
}

AttentionOptions on_device(AttentionOptions o, Device device) {
  if (o.mask.defined()) o.mask = o.mask.to(device);
  return o;
}

// Output and q, k, v gradients of fn on copies of q, k, v placed on `device`
// (in `dtype`), for the upstream gradient g; all returned on the CPU.
std::vector<Tensor> run(AttentionFn fn, const Tensor& q, const Tensor& k, const Tensor& v,
                        const AttentionOptions& o, const Tensor& g, Device device,
                        DType dtype = kFloat32) {
  auto input = [&](const Tensor& t) { return t.detach().to(dtype).to(device).requires_grad_(); };
  Tensor qq = input(q), kk = input(k), vv = input(v);
  AttentionOptions od = on_device(o, device);
  if (od.mask.defined() && od.mask.dtype() != kBool) od.mask = od.mask.to(dtype);
  Tensor out = fn(qq, kk, vv, od);
  std::vector<Tensor> grads = grad({out}, {qq, kk, vv}, {}, {g.to(dtype).to(device)});
  std::vector<Tensor> all = {out.detach(), grads[0], grads[1], grads[2]};
  for (Tensor& t : all) t = t.to(kFloat32).to(kCpu);
  return all;
}

// Fused on CUDA against the CPU's fused kernel and the composite formula on CUDA.
void check_fused(bool laser, const Tensor& q, const Tensor& k, const Tensor& v,
                 const AttentionOptions& o) {
  AttentionFn fused = laser ? laser_attention : scaled_dot_product_attention;
  AttentionFn composite =
      laser ? laser_attention_reference : scaled_dot_product_attention_reference;
  Shape out_shape = q.shape();
  Tensor g = randn(out_shape);
  std::vector<Tensor> got = run(fused, q, k, v, o, g, kCuda);
  std::vector<Tensor> cpu = run(fused, q, k, v, o, g, kCpu);
  std::vector<Tensor> formula = run(composite, q, k, v, o, g, kCuda);
  const char* what[] = {"output", "dq", "dk", "dv"};
  for (int i = 0; i < 4; ++i) {
    CAPTURE(what[i]);
    CHECK(got[i].all_finite());
    check_close(got[i], cpu[i], kTol, "against the CPU kernel");
    check_close(got[i], formula[i], kTol, "against the composite formula");
  }
}

struct Inputs {
  Tensor q, k, v;
};

Inputs random_inputs(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t d) {
  return {randn({B, H, Tq, d}), randn({B, H, Tk, d}), randn({B, H, Tk, d})};
}

}  // namespace

TEST_CASE("float32 has the fused CUDA kernels, float64 keeps the composite formula") {
  const KernelTable& f32 = kernel_table(kCuda, kFloat32);
  const KernelTable& f64 = kernel_table(kCuda, kFloat64);
  CHECK((f32.attention_forward != nullptr && f32.attention_backward != nullptr));
  CHECK((f64.attention_forward == nullptr && f64.attention_backward == nullptr));
  // float64 on CUDA (the composite) still gives the CPU's fused results.
  manual_seed(60);
  Inputs in = random_inputs(2, 2, 20, 30, 16);
  Tensor g = randn({2, 2, 20, 16});
  for (bool laser : {false, true}) {
    AttentionFn fn = laser ? laser_attention : scaled_dot_product_attention;
    const AttentionOptions o{.causal = true};
    std::vector<Tensor> got = run(fn, in.q, in.k, in.v, o, g, kCuda, kFloat64);
    std::vector<Tensor> want = run(fn, in.q, in.k, in.v, o, g, kCpu, kFloat64);
    for (int i = 0; i < 4; ++i) check_close(got[i], want[i], 1e-6, "float64");
  }
}

TEST_CASE("head dims above the CUDA tiles' 256 run the composite formula in float32") {
  manual_seed(59);
  Inputs in = random_inputs(1, 2, 9, 11, 320);
  Tensor g = randn({1, 2, 9, 320});
  for (bool laser : {false, true}) {
    AttentionFn fn = laser ? laser_attention : scaled_dot_product_attention;
    const AttentionOptions o{.causal = true};
    std::vector<Tensor> got = run(fn, in.q, in.k, in.v, o, g, kCuda, kFloat32);
    std::vector<Tensor> want = run(fn, in.q, in.k, in.v, o, g, kCpu, kFloat32);
    for (int i = 0; i < 4; ++i) check_close(got[i], want[i], 2e-5, "d 320");
  }
}

TEST_CASE("fused CUDA attention matches the CPU kernel and the composite, d 16..128") {
  manual_seed(61);
  struct Case {
    int64_t B, H, Tq, Tk;
    bool causal;
  };
  // Tiles cut short (70, 100, 130 are no tile multiples), Tq != Tk both
  // ways, one query and key, and Tq > Tk causal (the first rows see no key).
  const Case cases[] = {{2, 3, 70, 100, true},
                        {2, 2, 130, 65, false},
                        {1, 1, 1, 1, false},
                        {2, 1, 100, 70, true},
                        {1, 2, 200, 200, true}};
  for (int64_t d : {16, 32, 64, 80, 128}) {
    for (const Case& c : cases) {
      for (bool laser : {false, true}) {
        CAPTURE(d);
        CAPTURE(c.Tq);
        CAPTURE(c.Tk);
        CAPTURE(c.causal);
        CAPTURE(laser);
        Inputs in = random_inputs(c.B, c.H, c.Tq, c.Tk, d);
        check_fused(laser, in.q, in.k, in.v, {.causal = c.causal});
      }
    }
  }
}

TEST_CASE("fused CUDA attention with bool and additive masks, broadcast, with causal") {
  manual_seed(62);
  for (int64_t d : {16, 64, 128}) {
    for (bool laser : {false, true}) {
      CAPTURE(d);
      CAPTURE(laser);
      Inputs in = random_inputs(2, 2, 75, 90, d);
      Tensor keep = gt(rand({2, 1, 75, 90}), 0.3);  // per batch, broadcast over heads
      check_fused(laser, in.q, in.k, in.v, {.mask = keep});
      check_fused(laser, in.q, in.k, in.v, {.causal = true, .mask = keep});
      Tensor additive = randn({90});  // broadcast over batch, heads and queries
      check_fused(laser, in.q, in.k, in.v, {.mask = additive, .scale = 0.3});
    }
  }
}

TEST_CASE("fused CUDA attention: a row whose keys are all masked gives output 0 and gradient 0") {
  manual_seed(63);
  for (bool laser : {false, true}) {
    CAPTURE(laser);
    Inputs in = random_inputs(1, 2, 70, 80, 32);
    Tensor keep = gt(rand({70, 80}), 0.2);
    {
      NoGradGuard no_grad;
      keep.select(0, 1).fill_(false);
      keep.select(0, 66).fill_(false);  // one in the second query tile
    }
    check_fused(laser, in.q, in.k, in.v, {.mask = keep});
    AttentionFn fn = laser ? laser_attention : scaled_dot_product_attention;
    std::vector<Tensor> got =
        run(fn, in.q, in.k, in.v, {.mask = keep}, randn({1, 2, 70, 32}), kCuda);
    for (int64_t row : {1, 66}) {
      CHECK(got[0].select(2, row).abs().max().item<double>() == 0);
      CHECK(got[1].select(2, row).abs().max().item<double>() == 0);
    }
  }
}

// Heads split from one packed [B, T, 3, H, d] projection (batch and head
// strides that are not those of a [B,H,T,d] tensor) are read in place.
TEST_CASE("fused CUDA attention reads heads of a packed projection in place") {
  manual_seed(64);
  for (int64_t d : {16, 80}) {
    for (bool laser : {false, true}) {
      CAPTURE(d);
      CAPTURE(laser);
      const int64_t B = 2, T = 70, H = 3;
      Tensor qkv = randn({B, T, 3, H, d});
      Tensor g = randn({B, H, T, d});
      Tensor keep = gt(rand({B, 1, T, T}), 0.2);
      AttentionFn fn = laser ? laser_attention : scaled_dot_product_attention;
      auto packed_run = [&](Device device) {
        Tensor x = qkv.detach().to(device).requires_grad_();
        auto heads = [&](int64_t i) { return x.select(2, i).permute({0, 2, 1, 3}); };
        Tensor out =
            fn(heads(0), heads(1), heads(2), on_device({.causal = true, .mask = keep}, device));
        Tensor dx = grad({out}, {x}, {}, {g.to(device)})[0];
        return std::vector<Tensor>{out.detach().to(kCpu), dx.to(kCpu)};
      };
      std::vector<Tensor> got = packed_run(kCuda), want = packed_run(kCpu);
      check_close(got[0], want[0], kTol, "output");
      check_close(got[1], want[1], kTol, "d qkv");
    }
  }
}

// The cases of tests/test_attention.cpp where the paper's global-max formula
// underflows in float32 (a value of 150 future to most rows under the causal
// mask): the fused kernels flag the rows and recompute them exactly.
TEST_CASE("fused CUDA LASER stays finite and accurate where the paper's formula underflows") {
  manual_seed(65);
  struct Case {
    const char* what;
    int64_t T, big_pos;
  };
  for (int64_t d : {8, 16, 64}) {
    for (Case c :
         {Case{"large value at the end", 64, 63}, Case{"large value in the diagonal tile", 100, 10},
          Case{"large value late, several tiles", 200, 150}}) {
      CAPTURE(d);
      CAPTURE(c.what);
      Inputs in = random_inputs(1, 2, c.T, c.T, d);
      {
        NoGradGuard no_grad;
        in.v.select(2, c.big_pos).fill_(150.0);
      }
      const AttentionOptions causal{.causal = true};
      Tensor g = randn({1, 2, c.T, d});
      std::vector<Tensor> got = run(laser_attention, in.q, in.k, in.v, causal, g, kCuda);
      std::vector<Tensor> cpu = run(laser_attention, in.q, in.k, in.v, causal, g, kCpu);
      std::vector<Tensor> exact =
          run(laser_attention_reference, in.q, in.k, in.v, causal, g, kCpu, kFloat64);
      const char* what[] = {"output", "dq", "dk", "dv"};
      for (int i = 0; i < 4; ++i) {
        CAPTURE(what[i]);
        CHECK(got[i].all_finite());
        check_close(got[i], cpu[i], kTol, "against the CPU kernel");
        check_close(got[i], exact[i], 1e-4, "against the float64 formula");
      }
    }
  }
}

// The forward's saved tensors are the CPU kernel's: with a mask the CPU
// shifts every tile by its running column max, as the CUDA kernel always does,
// so row_max must be the same values (maxima of V) and the flagged rows the same.
TEST_CASE("the CUDA forward saves the CPU kernel's lse, row_max and flags") {
  manual_seed(66);
  for (int64_t d : {16, 128}) {
    CAPTURE(d);
    const int64_t B = 1, H = 2, Tq = 150, Tk = 200;
    Inputs in = random_inputs(B, H, Tq, Tk, d);
    {
      NoGradGuard no_grad;
      in.v.select(2, 120).fill_(150.0);  // far above the rest: flags rows before it
    }
    Tensor mask = zeros({1, 1, 1, Tk}).expand({B, H, Tq, Tk});  // additive, all kept
    auto forward = [&](Device device) {
      AttentionProblem p{in.q.to(device),
                         in.k.to(device),
                         in.v.to(device),
                         mask.to(device).expand({B, H, Tq, Tk}),
                         true,
                         true,
                         1.0 / std::sqrt(static_cast<double>(d))};
      Tensor out = empty({B, H, Tq, d}, {.device = device}),
             lse = empty({B, H, Tq}, {.device = device});
      Tensor row_max = empty({B, H, Tq, d}, {.device = device});
      Tensor flags = empty({B, H, Tq}, {.dtype = kBool, .device = device});
      kernel_table(device, kFloat32).attention_forward(p, out, lse, row_max, flags);
      return std::vector<Tensor>{out.to(kCpu), lse.to(kCpu), row_max.to(kCpu), flags.to(kCpu)};
    };
    std::vector<Tensor> got = forward(kCuda), want = forward(kCpu);
    check_close(got[0], want[0], kTol, "out");
    check_close(got[1], want[1], kTol, "lse");
    check_close(got[2], want[2], 0, "row_max");
    check_close(got[3].to(kFloat32), want[3].to(kFloat32), 0, "flags");
    CHECK(sum(want[3].to(kFloat32)).item<double>() > 0);  // the exact path ran
  }
}

TEST_CASE("fused CUDA attention memory grows linearly with the sequence length") {
  manual_seed(67);
  auto extra = [](int64_t T) {
    Inputs in = random_inputs(1, 2, T, T, 64);
    Tensor q = gpu(in.q).requires_grad_(), k = gpu(in.k).requires_grad_(),
           v = gpu(in.v).requires_grad_();
    size_t base = memory_allocated(kCuda);
    reset_peak_memory_allocated(kCuda);
    sum(laser_attention(q, k, v, {.causal = true})).backward();
    device_kernels(kCuda).synchronize();
    return static_cast<double>(max_memory_allocated(kCuda) - base);
  };
  double small = extra(512), large = extra(2048);
  CHECK(large / small < 6.0);  // 4x for linear, 16x for a materialised T x T matrix
}
