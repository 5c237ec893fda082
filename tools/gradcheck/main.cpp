// lg-gradcheck: gradient-checks the registered ops in float64.
//   lg-gradcheck            check every registered op
//   lg-gradcheck add matmul check some
//   lg-gradcheck --list     print the registered ops
// Prints a table (op, samples, max abs err, max rel err, PASS/FAIL) and exits
// non-zero if any check fails.
#include <lasergrad/lasergrad.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>

#include "testing/registry.h"

namespace {

// A finite number that is > 0 (strict) or >= 0. CLI11's NonNegativeNumber
// lets NaN through (NaN < 0 is false), and a NaN tolerance passes every check.
CLI::Validator finite_number(bool strictly_positive) {
  const char* want = strictly_positive ? "a finite number > 0" : "a finite number >= 0";
  return CLI::Validator(
      [strictly_positive, want](std::string& text) -> std::string {
        double x = 0;
        if (!CLI::detail::lexical_cast(text, x) || !std::isfinite(x) ||
            (strictly_positive ? !(x > 0) : !(x >= 0)))
          return std::string("must be ") + want + ", got " + text;
        return {};
      },
      strictly_positive ? "POSITIVE" : "NONNEGATIVE");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Gradient-check lasergrad's registered ops (float64 finite differences)"};
  bool list = false, no_gradgrad = false;
  std::vector<std::string> names;
  double atol = 1e-5, rtol = 1e-3, eps = 1e-6;
  uint64_t seed = 0;
  app.add_flag("--list", list, "Print every registered op and exit");
  app.add_flag("--no-gradgrad", no_gradgrad, "Skip the second-order checks");
  app.add_option("--atol", atol, "Absolute tolerance")
      ->capture_default_str()
      ->check(finite_number(false));
  app.add_option("--rtol", rtol, "Relative tolerance")
      ->capture_default_str()
      ->check(finite_number(false));
  app.add_option("--eps", eps, "Finite-difference step")
      ->capture_default_str()
      ->check(finite_number(true));
  app.add_option("--seed", seed, "Seed for the sample inputs")->capture_default_str();
  app.add_option("ops", names, "Ops to check (default: all)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    // One line and exit 2, like an unknown op (CLI11's own exit codes are >100).
    std::fprintf(stderr, "lg-gradcheck: %s\n", e.what());
    return 2;
  }

  const std::vector<const lg::OpInfo*> registry = lg::op_registry();
  if (list) {
    for (const lg::OpInfo* op : registry)
      std::printf("%s%s\n", op->name.c_str(), op->fused_backward ? "  (fused backward)" : "");
    return 0;
  }
  std::vector<const lg::OpInfo*> selected;
  if (names.empty()) {
    selected = registry;
  } else {
    for (const std::string& n : names) {
      const lg::OpInfo* op = lg::find_op(n);
      if (!op) {
        std::fprintf(stderr, "lg-gradcheck: unknown op '%s' (see --list)\n", n.c_str());
        return 2;
      }
      selected.push_back(op);
    }
  }

  lg::manual_seed(seed);
  lg::GradcheckOptions options{.eps = eps, .atol = atol, .rtol = rtol};
  int failures = 0;
  std::printf("%-20s %7s %14s %14s %6s\n", "op", "samples", "max abs err", "max rel err", "result");
  for (const lg::OpInfo* op : selected) {
    double max_abs = 0, max_rel = 0;
    bool ok = true;
    std::string first_failure;
    auto samples = op->samples();
    for (const lg::OpSample& s : samples) {
      std::vector<lg::GradcheckResult> results;
      try {
        results.push_back(lg::gradcheck(op->call, s.inputs, options));
        if (op->check_gradgrad && !no_gradgrad)
          results.push_back(lg::gradgradcheck(op->call, s.inputs, options));
      } catch (const lg::Error& e) {
        lg::GradcheckResult r;
        r.ok = false;
        r.message = std::string("error: ") + e.what();
        results.push_back(r);
      }
      for (size_t k = 0; k < results.size(); ++k) {
        const auto& r = results[k];
        max_abs = std::max(max_abs, r.max_abs_error);
        max_rel = std::max(max_rel, r.max_rel_error);
        if (!r.ok && ok) {
          ok = false;
          first_failure = s.description + (k == 1 ? " (second order): " : ": ") + r.message;
        }
      }
    }
    std::printf("%-20s %7zu %14.3e %14.3e %6s\n", op->name.c_str(), samples.size(), max_abs,
                max_rel, ok ? "PASS" : "FAIL");
    if (!ok) {
      std::printf("    %s\n", first_failure.c_str());
      ++failures;
    }
  }
  std::printf("%zu ops checked, %d failed\n", selected.size(), failures);
  return failures ? 1 : 0;
}
