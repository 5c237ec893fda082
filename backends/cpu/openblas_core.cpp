// Restarts the program on OpenBLAS's AVX2/AVX-512 kernels when OpenBLAS did
// not recognise the CPU. OpenBLAS's dynamic-arch build picks one kernel set
// in its load-time initialiser from the CPU's model number, and a model newer
// than the release falls back to the SSE3 "Prescott" kernels: Debian 12's
// OpenBLAS 0.3.21 on an Emerald Rapids Xeon ran lasergrad's GEMMs about 3x
// slower than with its AVX-512 ones. The kernel set cannot be changed once
// OpenBLAS has started, and its only switch, OPENBLAS_CORETYPE, is read by
// that initialiser, which runs before any code of the program (the variable
// cannot be set from the executable's .preinit_array either: the C library
// installs the environment after it). So when OpenBLAS reports "Prescott" on
// an Intel CPU with AVX2 and FMA and OPENBLAS_CORETYPE is unset, the first
// initialiser of the program (before every static initialiser of its own)
// sets OPENBLAS_CORETYPE to "SkylakeX" (AVX-512) or "Haswell" (AVX2), the
// kernels OpenBLAS picks itself for the Intel models it knows, and executes
// the program again with the same arguments. The restarted program removes
// the variable again, so that its child processes see the environment it was
// started with. Nothing happens where OpenBLAS knows the CPU, for set-uid
// programs, or when OPENBLAS_CORETYPE (any value) or LG_KEEP_OPENBLAS_CORE
// is set; if the restart fails, the program goes on with OpenBLAS's choice.
//
// Executables only: the lasergrad target links this object into executables
// alone (by lg_openblas_core_anchor), never into a shared library.
#include <cblas.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace lg {
namespace {

constexpr const char* kMarker = "LG_OPENBLAS_CORETYPE_SET";

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

// An init_array entry of priority 101 runs before the program's static
// initialisers (and glibc passes it argc, argv and the environment).
[[gnu::constructor(101)]] void restart_on_better_openblas_core(int, char** argv, char**) {
  if (std::getenv(kMarker) != nullptr) {  // the restarted program
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv(kMarker);
    return;
  }
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr || std::getenv("LG_KEEP_OPENBLAS_CORE") != nullptr)
    return;
  if (argv == nullptr || getauxval(AT_SECURE) != 0) return;
  const char* current = openblas_get_corename();
  if (current == nullptr || std::strcmp(current, "Prescott") != 0) return;
  const char* core = wanted_core();
  if (core == nullptr) return;
  if (setenv("OPENBLAS_CORETYPE", core, 1) != 0 || setenv(kMarker, "1", 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv(kMarker);
}

}  // namespace
}  // namespace lg

// Referenced by the lasergrad target's link option for executables, which
// pulls this object out of the static archive.
extern "C" {
extern const int lg_openblas_core_anchor;
const int lg_openblas_core_anchor = 1;
}
