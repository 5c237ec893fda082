// Which vector-code path the CPU kernels run: chosen at run time, so one
// binary runs on every x86-64 and uses the best instructions the CPU has. The
// kernels that have per-ISA variants (vector_math.cpp) switch on
// active_isa() at each call; LG_CPU_ISA or lg::set_cpu_isa picks a lower one.
#pragma once

namespace lg::cpu {

// x86-64 micro-architecture levels: Avx512 is x86-64-v4 (AVX-512 F/BW/CD/DQ/VL),
// Avx2 is x86-64-v3 (AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE), Baseline is plain
// x86-64 (SSE2), and the only one off x86.
enum class Isa : int { Baseline = 0, Avx2 = 1, Avx512 = 2 };

// The best level this CPU supports.
Isa best_isa();

// The level in use: LG_CPU_ISA's at the first call (throws lg::Error for a
// name it does not know or a level the CPU lacks), best_isa() without it,
// then whatever set_active_isa chose last.
Isa active_isa();

// Throws lg::Error when the CPU lacks `isa`.
void set_active_isa(Isa isa);

const char* isa_name(Isa isa);  // "avx512", "avx2", "baseline"

}  // namespace lg::cpu

// Function attributes that compile one variant for a level (empty off x86).
#if defined(__x86_64__) && defined(__GNUC__)
#define LG_TARGET_AVX512 __attribute__((target("arch=x86-64-v4")))
#define LG_TARGET_AVX2 __attribute__((target("arch=x86-64-v3")))
#define LG_HAVE_ISA_VARIANTS 1
#else
#define LG_TARGET_AVX512
#define LG_TARGET_AVX2
#define LG_HAVE_ISA_VARIANTS 0
#endif
