// lg-bench adamw: one AdamW step over a GPT-sized parameter set (default 3.3M
// float32 elements in 40 tensors): the fused kernel (KernelTable::adam_step,
// what optim::AdamW runs) against adam_step_reference (the same update in
// in-place tensor ops), and the whole optim::AdamW::step().
#include <lasergrad/nn/optimizer.h>

#include <cmath>

#include "bench_util.h"
#include "core/kernels.h"

namespace lg::bench {
namespace {

struct ParamSet {
  std::vector<Tensor> params, grads, exp_avg, exp_avg_sq;
};

ParamSet make_params(const Common& common, int64_t numel, int64_t tensors) {
  ParamSet s;
  for (int64_t k = 0; k < tensors; ++k) {
    const int64_t n = numel * (k + 1) / tensors - numel * k / tensors;
    s.params.push_back(randn({n}, {.device = common.target()}));
    s.grads.push_back(randn({n}, {.device = common.target()}));
    s.exp_avg.push_back(zeros({n}, {.device = common.target()}));
    s.exp_avg_sq.push_back(zeros({n}, {.device = common.target()}));
  }
  return s;
}

AdamStepArgs args_at(int64_t step) {
  const double t = static_cast<double>(step);
  return {.lr = 3e-4,
          .weight_decay = 0.1,
          .decoupled = true,
          .bias_correction1 = 1 - std::pow(0.9, t),
          .bias_correction2 = 1 - std::pow(0.999, t)};
}

template <typename Step>
void step_all(ParamSet& s, int64_t& t, Step step) {
  const AdamStepArgs a = args_at(++t);
  for (size_t k = 0; k < s.params.size(); ++k)
    step(s.params[k], s.grads[k], s.exp_avg[k], s.exp_avg_sq[k], a);
}

void run(const Common& common, int64_t numel, int64_t tensors) {
  LG_CHECK(numel >= tensors && tensors >= 1, "lg-bench adamw: need numel >= tensors >= 1, got ",
           numel, " and ", tensors);
  const Device device = common.target();
  const auto fused = kernel_table(device, kFloat32).adam_step;
  const std::string shape = "[" + std::to_string(numel) + "] in " + std::to_string(tensors);
  ParamSet s = make_params(common, numel, tensors);
  if (fused) {  // benchmarks validate before they time
    manual_seed(1);
    ParamSet a = make_params(common, numel, tensors);
    manual_seed(1);
    ParamSet b = make_params(common, numel, tensors);
    int64_t ta = 0, tb = 0;
    for (int i = 0; i < 3; ++i) {
      step_all(a, ta, fused);
      step_all(b, tb, adam_step_reference);
    }
    double err = 0;
    for (size_t k = 0; k < a.params.size(); ++k)
      err = std::max(err, max(abs(a.params[k] - b.params[k])).item<double>());
    LG_CHECK(err < 1e-5, "lg-bench adamw: fused and reference differ by ", err);
  }
  // On the device, the bytes a step must move: each float32 element's
  // parameter, gradient and both moments read, and the parameter and moments written.
  const double bytes = device.is_cuda() ? 7.0 * 4.0 * static_cast<double>(numel) : 0;
  int64_t t = 0;
  report({.bench = "adamw",
          .impl = "reference",
          .shape = shape,
          .pass = "step",
          .median_ms = median_ms([&] { step_all(s, t, adam_step_reference); }, common),
          .bytes = bytes});
  if (fused) {
    report({.bench = "adamw",
            .impl = "fused",
            .shape = shape,
            .pass = "step",
            .median_ms = median_ms([&] { step_all(s, t, fused); }, common),
            .baseline = "reference",
            .bytes = bytes});
  }
  // The optimizer as a trainer runs it (kernel where the device has one).
  for (size_t k = 0; k < s.params.size(); ++k) s.params[k].set_grad(s.grads[k]);
  optim::AdamW opt(s.params, {.lr = 3e-4, .weight_decay = 0.1});
  report({.bench = "adamw",
          .impl = "optim::AdamW",
          .shape = shape,
          .pass = "step",
          .median_ms = median_ms([&] { opt.step(); }, common),
          .baseline = "reference",
          .bytes = bytes});
}

}  // namespace

Runner setup_adamw(CLI::App& cmd) {
  auto numel = std::make_shared<int64_t>(3300000);
  auto tensors = std::make_shared<int64_t>(40);
  cmd.add_option("--numel", *numel, "Parameter elements in all")->capture_default_str();
  cmd.add_option("--tensors", *tensors, "Parameter tensors they are split into")
      ->capture_default_str();
  return [numel, tensors](const Common& common) { run(common, *numel, *tensors); };
}

}  // namespace lg::bench
