// lg-bench attention: fused LASER and softmax attention against their
// composite formulas, forward and forward+backward, with GFLOP/s, peak extra
// memory, and sgemm at 2048^3 timed in the same run for scale: OpenBLAS on
// the CPU, cuBLAS (through matmul) with --device cuda, where each result also
// reports its TFLOP/s and its percentage of that rate.
#include <cblas.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "bench_util.h"

namespace lg::bench {
namespace {

struct AttentionConfig {
  int64_t batch = 1, heads = 8, d = 64;
  std::vector<int64_t> lengths = {256, 512, 1024, 2048};
  bool causal = true;
  int64_t composite_max_t = 2048;  // the composite materialises [B,H,T,T]
  std::vector<std::string> passes = {"fwd", "fwd+bwd"};
};

double sgemm_gflops(const Common& common) {
  const int64_t n = 2048;
  if (common.target().is_cuda()) {  // cuBLAS sgemm; median_ms waits for the device
    const TensorOptions on_device{.device = common.target()};
    Tensor a = randn({n, n}, on_device), b = randn({n, n}, on_device);
    NoGradGuard no_grad;
    return 2.0 * n * n * n / (median_ms([&] { matmul(a, b); }, common) * 1e6);
  }
  Tensor a = randn({n, n}), b = randn({n, n}), c = empty({n, n});
  double ms = median_ms([&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data_ptr<float>(), n,
                b.data_ptr<float>(), n, 0.0f, c.data_ptr<float>(), n);
  }, common);
  return 2.0 * n * n * n / (ms * 1e6);
}

void run(const Common& common, const AttentionConfig& cfg) {
  const bool cuda = common.target().is_cuda();
  const char* sgemm_impl = cuda ? "cuBLAS" : "OpenBLAS";
  const double peak_sgemm = sgemm_gflops(common);
  std::printf("{\"bench\":\"sgemm\",\"impl\":\"%s\",\"n\":2048,\"gflops\":%.2f}\n", sgemm_impl,
              peak_sgemm);
  std::fprintf(stderr, "%s sgemm 2048^3: %.1f GFLOP/s\n", sgemm_impl, peak_sgemm);
  std::fprintf(stderr, "%-18s %6s %-8s %11s %9s %9s %8s\n", "impl", "T", "pass", "median ms",
               "GFLOP/s", "% sgemm", "peak MB");
  using Fn = Tensor (*)(const Tensor&, const Tensor&, const Tensor&, const AttentionOptions&);
  struct Impl {
    const char* name;
    Fn fn;
    bool composite;
  };
  const Impl impls[] = {{"fused_laser", laser_attention, false},
                        {"fused_softmax", scaled_dot_product_attention, false},
                        {"composite_laser", laser_attention_reference, true},
                        {"composite_softmax", scaled_dot_product_attention_reference, true}};
  for (int64_t T : cfg.lengths) {
    TensorOptions o{.device = common.target(), .requires_grad = true};
    Tensor q = randn({cfg.batch, cfg.heads, T, cfg.d}, o);
    Tensor k = randn({cfg.batch, cfg.heads, T, cfg.d}, o);
    Tensor v = randn({cfg.batch, cfg.heads, T, cfg.d}, o);
    Tensor g = randn({cfg.batch, cfg.heads, T, cfg.d}, {.device = common.target()});
    AttentionOptions opts{.causal = cfg.causal};
    // FLOPs: 4 B H Tq Tk d forward (halved when causal); fwd+bwd 3.5x forward.
    const double fwd_flops = 4.0 * cfg.batch * cfg.heads * T * T * cfg.d * (cfg.causal ? 0.5 : 1.0);
    for (const Impl& impl : impls) {
      if (impl.composite && T > cfg.composite_max_t) continue;
      for (bool with_backward : {false, true}) {
        const char* pass = with_backward ? "fwd+bwd" : "fwd";
        if (std::find(cfg.passes.begin(), cfg.passes.end(), pass) == cfg.passes.end()) continue;
        auto step = [&] {
          if (with_backward) {
            backward({impl.fn(q, k, v, opts)}, {g});
            q.zero_grad();
            k.zero_grad();
            v.zero_grad();
          } else {
            NoGradGuard no_grad;
            impl.fn(q, k, v, opts);
          }
        };
        size_t base = memory_allocated(common.target());
        reset_peak_memory_allocated(common.target());
        step();
        double peak_mb = (max_memory_allocated(common.target()) - base) / 1048576.0;
        double ms = median_ms(step, common);
        double flops = fwd_flops * (with_backward ? 3.5 : 1.0);
        double gflops = flops / (ms * 1e6);
        // On CUDA also TFLOP/s and the share of the cuBLAS sgemm rate of this run.
        char device_rate[96] = "";
        if (cuda)
          std::snprintf(device_rate, sizeof device_rate, ",\"tflops\":%.3f,\"pct_sgemm\":%.1f",
                        gflops / 1e3, 100.0 * gflops / peak_sgemm);
        std::printf(
            "{\"bench\":\"attention\",\"impl\":\"%s\",\"B\":%lld,\"H\":%lld,\"T\":%lld,\"d\":%lld,"
            "\"causal\":%s,\"pass\":\"%s\",\"median_ms\":%.3f,\"gflops\":%.2f%s,\"peak_mb\":%.2f}\n",
            impl.name, static_cast<long long>(cfg.batch), static_cast<long long>(cfg.heads),
            static_cast<long long>(T), static_cast<long long>(cfg.d), cfg.causal ? "true" : "false",
            pass, ms, gflops, device_rate, peak_mb);
        std::fflush(stdout);
        std::fprintf(stderr, "%-18s %6lld %-8s %11.2f %9.1f %8.1f%% %8.1f\n", impl.name,
                     static_cast<long long>(T), pass, ms, gflops, 100.0 * gflops / peak_sgemm,
                     peak_mb);
      }
    }
  }
}

}  // namespace

Runner setup_attention(CLI::App& cmd) {
  auto cfg = std::make_shared<AttentionConfig>();
  cmd.add_option("-B,--batch", cfg->batch, "Batch size")->capture_default_str();
  cmd.add_option("-H,--heads", cfg->heads, "Heads")->capture_default_str();
  cmd.add_option("-T,--lengths", cfg->lengths, "Sequence lengths (Tq = Tk)")->capture_default_str();
  cmd.add_option("-d,--head-dim", cfg->d, "Head size")->capture_default_str();
  cmd.add_option("--causal", cfg->causal, "Causal mask (true/false)")->capture_default_str();
  cmd.add_option("--composite-max-t", cfg->composite_max_t,
                 "Longest T for the composite formulas (they store [B,H,T,T])")
      ->capture_default_str();
  cmd.add_option("--passes", cfg->passes, "Passes to time: fwd, fwd+bwd")
      ->check(CLI::IsMember({"fwd", "fwd+bwd"}))
      ->capture_default_str();
  return [cfg](const Common& common) { run(common, *cfg); };
}

}  // namespace lg::bench
