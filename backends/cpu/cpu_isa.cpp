#include "cpu_isa.h"

#include <lasergrad/core/error.h>
#include <lasergrad/runtime.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace lg::cpu {
namespace {

constexpr int kUnset = -1;
std::atomic<int> active{kUnset};

Isa detect() {
#if LG_HAVE_ISA_VARIANTS
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4")) return Isa::Avx512;
  if (__builtin_cpu_supports("x86-64-v3")) return Isa::Avx2;
#endif
  return Isa::Baseline;
}

// "avx2 and baseline": the names of the levels this CPU supports, best first.
std::string supported_list() {
  std::string s;
  for (const std::string& name : supported_cpu_isas()) s += (s.empty() ? "" : ", ") + name;
  return s;
}

Isa parse(const std::string& name, const char* who) {
  for (Isa isa : {Isa::Avx512, Isa::Avx2, Isa::Baseline})
    if (name == isa_name(isa)) return isa;
  if (name == "best") return best_isa();
  detail::fail(who, ": unknown CPU path '", name,
               "' (avx512, avx2, baseline or best; this CPU has ", supported_list(), ")");
}

void check_supported(Isa isa, const char* who) {
  LG_CHECK(static_cast<int>(isa) <= static_cast<int>(best_isa()), who, ": this CPU has no ",
           isa_name(isa), " (it supports ", supported_list(), ")");
}

}  // namespace

Isa best_isa() {
  static const Isa best = detect();
  return best;
}

Isa active_isa() {
  const int v = active.load(std::memory_order_relaxed);
  if (v != kUnset) return static_cast<Isa>(v);
  Isa isa = best_isa();
  if (const char* env = std::getenv("LG_CPU_ISA"); env && *env) {
    isa = parse(env, "LG_CPU_ISA");
    check_supported(isa, "LG_CPU_ISA");
  }
  int expected = kUnset;  // a concurrent set_active_isa wins
  active.compare_exchange_strong(expected, static_cast<int>(isa), std::memory_order_relaxed);
  return static_cast<Isa>(active.load(std::memory_order_relaxed));
}

void set_active_isa(Isa isa) {
  check_supported(isa, "set_cpu_isa");
  active.store(static_cast<int>(isa), std::memory_order_relaxed);
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512:
      return "avx512";
    case Isa::Avx2:
      return "avx2";
    case Isa::Baseline:
      break;
  }
  return "baseline";
}

}  // namespace lg::cpu

namespace lg {

const char* cpu_isa() { return cpu::isa_name(cpu::active_isa()); }

void set_cpu_isa(const std::string& name) { cpu::set_active_isa(cpu::parse(name, "set_cpu_isa")); }

std::vector<std::string> supported_cpu_isas() {
  std::vector<std::string> names;
  for (int level = static_cast<int>(cpu::best_isa()); level >= 0; --level)
    names.emplace_back(cpu::isa_name(static_cast<cpu::Isa>(level)));
  return names;
}

}  // namespace lg
