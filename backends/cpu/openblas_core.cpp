// OpenBLAS's dynamic-arch build picks one kernel set when it is loaded, from
// the CPU's model number, and a model newer than the release falls back to
// the SSE3 "Prescott" kernels: Debian 12's OpenBLAS 0.3.21 on an Emerald
// Rapids Xeon ran lasergrad's GEMMs about 3x slower than with its AVX-512
// ones. Its switch, OPENBLAS_CORETYPE, is read by that load-time selection,
// which OpenBLAS exports as gotoblas_dynamic_init (with gotoblas_dynamic_quit
// to undo it). So before the first BLAS call, where OpenBLAS reports
// "Prescott" on an Intel CPU with AVX2 and FMA, we set OPENBLAS_CORETYPE to
// the kernels OpenBLAS itself picks for the Intel models it knows ("SkylakeX"
// with AVX-512, else "Haswell"), run the selection again, and remove the
// variable, so the environment (and child processes) stay as they were.
// Nothing happens where OpenBLAS knows the CPU, where the build lacks those
// entry points, or when OPENBLAS_CORETYPE (any value: the user's choice wins)
// or LG_KEEP_OPENBLAS_CORE is set.
#include "backends/cpu/openblas_core.h"

#include <cblas.h>

#include <cstdlib>
#include <cstring>

// OpenBLAS's own entry points (DYNAMIC_ARCH builds); weak, so a build without
// them links and leaves the choice alone.
extern "C" {
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));
}

namespace lg::cpu {
namespace {

const char* wanted_core() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (!__builtin_cpu_is("intel")) return nullptr;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512cd"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return nullptr;
}

}  // namespace

void select_openblas_core() {
  if (gotoblas_dynamic_init == nullptr || gotoblas_dynamic_quit == nullptr) return;
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr || std::getenv("LG_KEEP_OPENBLAS_CORE") != nullptr)
    return;
  const char* current = openblas_get_corename();
  if (current == nullptr || std::strcmp(current, "Prescott") != 0) return;
  const char* core = wanted_core();
  if (core == nullptr || setenv("OPENBLAS_CORETYPE", core, 1) != 0) return;
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  unsetenv("OPENBLAS_CORETYPE");
}

}  // namespace lg::cpu
