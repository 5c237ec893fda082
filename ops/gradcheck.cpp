#include <lasergrad/core/autograd.h>
#include <lasergrad/ops/factory.h>
#include <lasergrad/ops/gradcheck.h>

#include <cmath>
#include <sstream>

#include "op_support.h"

namespace lg {
namespace {

// Pointer to flat element i of a (possibly strided) float64 CPU tensor.
double* element(const Tensor& t, int64_t i) {
  int64_t off = 0;
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    off += (i % t.shape()[d]) * t.strides()[d];
    i /= t.shape()[d];
  }
  return static_cast<double*>(t.raw_data()) + off;
}

std::vector<double> flat_values(const Tensor& t) {
  return t.defined() ? t.detach().to_vector<double>() : std::vector<double>{};
}

std::vector<std::vector<double>> evaluate(const GradcheckMultiFn& fn,
                                          const std::vector<Tensor>& inputs) {
  NoGradGuard no_grad;
  std::vector<std::vector<double>> values;
  for (const Tensor& t : fn(inputs)) values.push_back(flat_values(t));
  return values;
}

// The vector-Jacobian product <fn(inputs), v> w.r.t. inputs[checked], with or
// without create_graph (fused ops run different backward code in each mode).
std::vector<Tensor> vjp_at(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                           const std::vector<int>& checked, const Tensor& v, bool create_graph) {
  GradModeGuard grad_on(true);
  Tensor out = fn(inputs);
  std::vector<Tensor> wrt;
  for (int i : checked) wrt.push_back(inputs[i]);
  if (!out.requires_grad()) return std::vector<Tensor>(wrt.size());
  return grad({out}, wrt, {.create_graph = create_graph}, {v.detach()});
}

// Fails where the create_graph gradient and the plain one differ by more than
// atol + rtol * |plain|.
GradcheckResult compare_create_graph_backward(const GradcheckFn& fn,
                                              const std::vector<Tensor>& inputs,
                                              const std::vector<int>& checked, const Tensor& v,
                                              const GradcheckOptions& options) {
  std::vector<Tensor> plain = vjp_at(fn, inputs, checked, v, false);
  std::vector<Tensor> graphed = vjp_at(fn, inputs, checked, v, true);
  GradcheckResult r;
  for (size_t k = 0; k < checked.size(); ++k) {
    std::vector<double> p = flat_values(plain[k]), g = flat_values(graphed[k]);
    const size_t n = static_cast<size_t>(inputs[checked[k]].numel());
    p.resize(n, 0.0);  // an undefined gradient is zero
    g.resize(n, 0.0);
    for (size_t e = 0; e < n; ++e) {
      const double err = std::fabs(g[e] - p[e]);
      if (err <= options.atol + options.rtol * std::fabs(p[e])) continue;  // false for NaN
      r.ok = false;
      r.max_abs_error = std::isfinite(err) ? err : INFINITY;
      r.worst_input = checked[k];
      r.worst_index = static_cast<int64_t>(e);
      r.numeric = p[e];
      r.analytic = g[e];
      std::ostringstream os;
      os << "gradgradcheck failed: the first-order gradient under create_graph differs from "
         << "the plain backward at input " << checked[k] << " element " << e << ": " << g[e]
         << " vs " << p[e];
      r.message = os.str();
      return r;
    }
  }
  return r;
}

// A negative or NaN tolerance passes every check and eps = 0 divides by zero:
// reject them before they give a meaningless verdict.
void check_options(const GradcheckOptions& o, const char* fn) {
  LG_CHECK(std::isfinite(o.eps) && o.eps > 0, fn, ": option eps must be a positive finite ",
           "finite-difference step, got ", o.eps);
  LG_CHECK(std::isfinite(o.atol) && o.atol >= 0, fn,
           ": option atol must be a finite number >= 0, got ", o.atol);
  LG_CHECK(std::isfinite(o.rtol) && o.rtol >= 0, fn,
           ": option rtol must be a finite number >= 0, got ", o.rtol);
}

}  // namespace

GradcheckResult gradcheck(const GradcheckMultiFn& fn, const std::vector<Tensor>& inputs,
                          GradcheckOptions options) {
  check_options(options, "gradcheck");
  std::vector<int> checked;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !inputs[i].requires_grad()) continue;
    LG_CHECK(inputs[i].dtype() == kFloat64 && inputs[i].device().is_cpu(), "gradcheck: input ", i,
             " is ", inputs[i].describe(), "; gradcheck needs float64 CPU inputs");
    checked.push_back(static_cast<int>(i));
  }
  LG_CHECK(!checked.empty(), "gradcheck: no input requires grad");

  std::vector<Tensor> outputs = fn(inputs);
  std::vector<int64_t> out_sizes;
  for (const Tensor& o : outputs) out_sizes.push_back(o.defined() ? o.numel() : 0);

  GradcheckResult r;
  double worst_ratio = -1;
  auto consider = [&](int input, int64_t index, int out_index, int64_t out_elem, double numeric,
                      double analytic) {
    double abs_err = std::fabs(numeric - analytic);
    double rel_err = abs_err / std::max(std::fabs(numeric), 1e-12);
    bool finite = std::isfinite(numeric) && std::isfinite(analytic);
    if (!finite) abs_err = rel_err = INFINITY;
    r.max_abs_error = std::max(r.max_abs_error, abs_err);
    if (std::fabs(numeric) > options.atol) r.max_rel_error = std::max(r.max_rel_error, rel_err);
    // A NaN ratio (NaN numeric, or 0/0 at zero tolerances) would never become
    // the worst element and leave the failure without a message.
    double ratio = abs_err == 0 ? 0 : abs_err / (options.atol + options.rtol * std::fabs(numeric));
    if (!finite || std::isnan(ratio)) ratio = INFINITY;
    if (ratio > worst_ratio) {
      worst_ratio = ratio;
      r.worst_input = input;
      r.worst_index = index;
      r.numeric = numeric;
      r.analytic = analytic;
      std::ostringstream os;
      os << "input " << input << " element " << index << ", output " << out_index << " element "
         << out_elem << ": numeric " << numeric << " vs analytic " << analytic;
      r.message = os.str();
    }
    if (!(ratio <= 1.0)) r.ok = false;
  };

  // Analytic Jacobian rows: one vector-Jacobian product per output element.
  // analytic[o][e][k] = d outputs[o][e] / d inputs[checked[k]] (flattened).
  std::vector<Tensor> checked_inputs;
  for (int i : checked) checked_inputs.push_back(inputs[i]);
  std::vector<std::vector<std::vector<std::vector<double>>>> analytic(outputs.size());
  for (size_t o = 0; o < outputs.size(); ++o) {
    analytic[o].resize(out_sizes[o]);
    for (int64_t e = 0; e < out_sizes[o]; ++e) {
      std::vector<std::vector<double>>& row = analytic[o][e];
      if (!outputs[o].requires_grad()) {
        for (int i : checked) row.emplace_back(inputs[i].numel(), 0.0);
        continue;
      }
      Tensor seed = zeros(outputs[o].shape(), {.dtype = outputs[o].dtype()});
      *element(seed, e) = 1.0;
      std::vector<Tensor> gs = grad({outputs[o]}, checked_inputs, {.retain_graph = true}, {seed});
      for (size_t k = 0; k < checked.size(); ++k) {
        const Tensor& in = inputs[checked[k]];
        if (gs[k].defined()) {
          LG_CHECK(gs[k].shape() == in.shape(), "gradcheck: gradient for input ", checked[k], " has ",
                   "shape ", shape_str(gs[k].shape()), " but the input is ", in.describe());
          row.push_back(flat_values(gs[k]));
        } else {
          row.emplace_back(in.numel(), 0.0);
        }
      }
    }
  }

  // Numeric Jacobian columns: perturb each input element both ways.
  for (size_t k = 0; k < checked.size(); ++k) {
    const Tensor& in = inputs[checked[k]];
    for (int64_t idx = 0; idx < in.numel(); ++idx) {
      double* p = element(in, idx);
      const double original = *p;
      // Outputs may be views of the input: read them before the next change.
      *p = original + options.eps;
      std::vector<std::vector<double>> plus = evaluate(fn, inputs);
      *p = original - options.eps;
      std::vector<std::vector<double>> minus = evaluate(fn, inputs);
      *p = original;
      for (size_t o = 0; o < outputs.size(); ++o) {
        const std::vector<double>& fp = plus[o];
        const std::vector<double>& fm = minus[o];
        for (int64_t e = 0; e < out_sizes[o]; ++e) {
          double vp = fp.empty() ? 0.0 : fp[e], vm = fm.empty() ? 0.0 : fm[e];
          double numeric = (vp - vm) / (2 * options.eps);
          consider(checked[k], idx, static_cast<int>(o), e, numeric, analytic[o][e][k][idx]);
        }
      }
    }
  }
  if (r.ok) r.message = "ok (worst: " + r.message + ")";
  else r.message = "gradcheck failed at " + r.message;
  return r;
}

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          GradcheckOptions options) {
  return gradcheck(GradcheckMultiFn([&](const std::vector<Tensor>& in) {
                     return std::vector<Tensor>{fn(in)};
                   }),
                   inputs, options);
}

GradcheckResult gradgradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                              GradcheckOptions options) {
  check_options(options, "gradgradcheck");
  std::vector<int> checked;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) checked.push_back(static_cast<int>(i));
  LG_CHECK(!checked.empty(), "gradgradcheck: no input requires grad");
  Tensor probe;
  {
    NoGradGuard no_grad;
    probe = fn(inputs);
  }
  // A fixed random output gradient, itself checked as an input.
  Tensor v = randn(probe.shape(), {.dtype = kFloat64, .requires_grad = true});
  std::vector<Tensor> all = inputs;
  all.push_back(v);
  auto vjp = [&](const std::vector<Tensor>& in) {
    GradModeGuard grad_on(true);  // the finite differences evaluate this under no_grad
    std::vector<Tensor> xs(in.begin(), in.end() - 1);
    Tensor out = fn(xs);
    std::vector<Tensor> wrt;
    for (int i : checked) wrt.push_back(xs[i]);
    if (!out.requires_grad()) return std::vector<Tensor>(wrt.size());
    return grad({out}, wrt, {.create_graph = true}, {in.back()});
  };
  // The finite differences below only see the create_graph backward, which
  // for a fused op is a separate composite formula: a composite that is wrong
  // to first order (but differentiable) would pass unnoticed. So first check
  // that it agrees with the plain backward, which gradcheck validates.
  GradcheckResult first = compare_create_graph_backward(fn, inputs, checked, v, options);
  if (!first.ok) return first;
  return gradcheck(GradcheckMultiFn(vjp), all, options);
}

}  // namespace lg
