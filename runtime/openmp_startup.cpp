// How long idle OpenMP threads spin, chosen before libgomp reads it. libgomp's
// idle threads spin up to 300000 iterations (about a millisecond or more) at
// every barrier and between parallel regions before they sleep. On a quiet
// machine that hides the wake-up latency; on a busy one a spinning thread
// takes the core from the thread that has the work (and from other
// programs). A shorter spin keeps the quiet speed and degrades gracefully
// (docs/performance.md has the measurements).
//
// libgomp reads GOMP_SPINCOUNT once, in its own initialiser, before any of
// the program's code runs, and from the environment the program was started
// with (the C library sets the environment up after .preinit_array functions
// run, so a setenv there is lost). So the first thing the program does, from
// the executable's .preinit_array, is to execute itself again with
// GOMP_SPINCOUNT added, unless the user set OMP_WAIT_POLICY, GOMP_SPINCOUNT or
// LG_KEEP_OMP_WAIT, or it runs setuid or under valgrind, or /proc/self/exe
// cannot be executed (then it goes on with libgomp's default). Nothing has
// run yet at that point: no file was opened, no thread started. The second
// copy removes the two variables again once libgomp has read them, so the
// program and its child processes see the environment they were given.
//
// A .preinit_array is only allowed in executables: CMake links this object
// into executables only (a shared library built on lasergrad keeps libgomp's
// default).
#include <sys/auxv.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

// Defined in runtime/runtime.cpp (lg::openmp_wait_policy reads it), which
// every program linking lasergrad has.
extern "C" const char* lg_startup_spin_record;

namespace {

// Spin iterations before an idle thread sleeps (libgomp's default: 300000).
constexpr const char* kSpinCount = LG_OMP_SPIN_COUNT;
constexpr const char* kSpinVariable = "GOMP_SPINCOUNT=" LG_OMP_SPIN_COUNT;
// Marks the copy started here (its GOMP_SPINCOUNT is lasergrad's, not the user's).
constexpr const char* kMarker = "LG_OMP_SPIN_SET=1";

// Whether envp has a variable `name` (the C library's getenv cannot be used
// yet: its environment is not set up when .preinit_array functions run).
bool has(char** envp, const char* name) {
  const size_t n = std::strlen(name);
  for (char** e = envp; e && *e; ++e)
    if (std::strncmp(*e, name, n) == 0 && (*e)[n] == '=') return true;
  return false;
}

bool under_valgrind(char** envp) {
  for (char** e = envp; e && *e; ++e)
    if (std::strncmp(*e, "LD_PRELOAD=", 11) == 0 && std::strstr(*e, "vgpreload")) return true;
  return false;
}

void start_with_short_spin(int, char** argv, char** envp) {
  if (has(envp, "LG_OMP_SPIN_SET")) {  // the second copy
    lg_startup_spin_record = kSpinCount;
    return;
  }
  if (has(envp, "OMP_WAIT_POLICY") || has(envp, "GOMP_SPINCOUNT") ||
      has(envp, "LG_KEEP_OMP_WAIT") || getauxval(AT_SECURE) || under_valgrind(envp))
    return;
  size_t count = 0;
  while (envp && envp[count]) ++count;
  char** extended = static_cast<char**>(std::malloc((count + 3) * sizeof(char*)));
  if (!extended) return;
  for (size_t i = 0; i < count; ++i) extended[i] = envp[i];
  extended[count] = const_cast<char*>(kSpinVariable);
  extended[count + 1] = const_cast<char*>(kMarker);
  extended[count + 2] = nullptr;
  ::execve("/proc/self/exe", argv, extended);
  std::free(extended);  // not executed: go on with libgomp's default
}

// A static initialiser of the executable: it runs after every shared
// library's, libgomp's included.
const bool environment_restored = [] {
  if (lg_startup_spin_record) {
    ::unsetenv("GOMP_SPINCOUNT");
    ::unsetenv("LG_OMP_SPIN_SET");
  }
  return true;
}();

}  // namespace

extern "C" {
// Referenced by the --undefined link option executables get, so that this
// object is linked from the static archive.
extern const int lg_startup_anchor;
const int lg_startup_anchor = environment_restored ? 1 : 0;
__attribute__((section(".preinit_array"),
               used)) void (*const lg_openmp_preinit)(int, char**, char**) = start_with_short_spin;
}
