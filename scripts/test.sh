#!/usr/bin/env bash
# The README's test command: installs what is missing, builds Release with
# warnings as errors in build/ and runs every test, then builds build-asan/ with
# AddressSanitizer + UndefinedBehaviorSanitizer and runs the unit tests and the
# demo under them, then builds the thread-safety tests under ThreadSanitizer in
# build-tsan/ and runs them. Ends with one line of timings; exits non-zero on
# any failure.
# Environment: LG_BUILD_DIR, LG_ASAN_BUILD_DIR, LG_TSAN_BUILD_DIR (other build folders),
# LG_CMAKE_ARGS (more options for both configures, e.g. -DLG_WITH_CUDA=OFF),
# LG_SKIP_SANITIZE=1 (only the Release part), LG_TEST_JOBS (tests run at once;
# default: one per core).
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=${LG_BUILD_DIR:-build}
asan_build=${LG_ASAN_BUILD_DIR:-build-asan}
tsan_build=${LG_TSAN_BUILD_DIR:-build-tsan}
read -r -a extra_args <<<"${LG_CMAKE_ARGS:-}"
test_jobs=${LG_TEST_JOBS:-$(nproc)}
timings=()
stage=""
start=$SECONDS

# timed LABEL COMMAND...: runs the command and records how long it took.
timed() {
  local label=$1 t0=$SECONDS
  shift
  stage=$label
  "$@"
  timings+=("$label $((SECONDS - t0))s")
}

summary() {
  local rc=$?
  local IFS=,
  if ((rc == 0)); then
    echo "test.sh: passed. timings:${timings[*]/#/ }, total $((SECONDS - start))s"
  else
    echo "test.sh: FAILED in '$stage' (exit $rc). timings:${timings[*]/#/ }" >&2
  fi
}
trap summary EXIT

# configure DIR OPTIONS...: Ninja for a new build folder; an existing one keeps its generator.
configure() {
  local dir=$1
  shift
  local generator=()
  [[ -f $dir/CMakeCache.txt ]] || generator=(-G Ninja)
  cmake -S . -B "$dir" "${generator[@]}" "$@" "${extra_args[@]}"
}

release_build() {
  configure "$build" -DCMAKE_BUILD_TYPE=Release -DLG_WERROR=ON
  cmake --build "$build"
}

asan_build_all() {
  # -O1 -g1: the usual sanitizer build, and much quicker to compile than -O2 -g. Warnings
  # are already errors in the Release build; -O1 would only add different false positives.
  configure "$asan_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DLG_SANITIZE=ON \
    -DLG_WITH_CUDA=OFF -DLG_BUILD_TOOLS=OFF -DLG_BUILD_EXAMPLES=ON
  cmake --build "$asan_build"
}

# The install/consumer test only repeats the Release one's build checks: not run here.
asan_tests() {
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$asan_build" --output-on-failure -j "$test_jobs" -E '^install:'
}

# ThreadSanitizer over what docs/threads.md calls thread-safe (tests/test_threads.cpp)
# and the trainers' prefetching data loader (examples/common/test_data_loader.cpp),
# with one OpenMP thread: libgomp is not instrumented, so its barriers would look
# like races. doctest's own output carries the counts.
tsan_build_tests() {
  configure "$tsan_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DCMAKE_CXX_FLAGS=-fsanitize=thread -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread \
    -DLG_WITH_CUDA=OFF -DLG_BUILD_TOOLS=OFF -DLG_BUILD_EXAMPLES=ON
  cmake --build "$tsan_build" --target test_threads test_data_loader
}

tsan_tests() {
  OMP_NUM_THREADS=1 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
    "$tsan_build/tests/test_threads" &&
    OMP_NUM_THREADS=1 TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
      "$tsan_build/examples/common/test_data_loader"
}

timed deps bash scripts/install-deps.sh
timed "release build" release_build
timed tests ctest --test-dir "$build" --output-on-failure -j "$test_jobs"
if [[ ${LG_SKIP_SANITIZE:-0} != 1 ]]; then
  timed "asan build" asan_build_all
  timed "asan tests" asan_tests
  timed "tsan build" tsan_build_tests
  timed "tsan tests" tsan_tests
fi
