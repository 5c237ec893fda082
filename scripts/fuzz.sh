#!/usr/bin/env bash
# Fuzzes the safetensors reader (tools/fuzz/fuzz_safetensors.cpp) with
# libFuzzer for a bounded time. Usage: scripts/fuzz.sh [seconds] (default 60).
# Needs clang and its runtime (Debian: clang, libclang-rt-dev). Builds
# build-fuzz/ (clang, ASan + UBSan, coverage-instrumented library), keeps the
# growing corpus in build-fuzz/corpus and any crashing input in
# build-fuzz/artifacts. Exits non-zero when the fuzzer finds a crash.
# Environment: LG_FUZZ_BUILD_DIR, CXX (default clang++), LG_FUZZ_CXX_FLAGS
# (more compiler flags; default -march=native: clang rejects the AVX-512
# function clones of backends/cpu/vector_math.cpp without it), LG_FUZZ_JOBS
# (build parallelism).
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-60}
build=${LG_FUZZ_BUILD_DIR:-build-fuzz}
cxx=${CXX:-clang++}

cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link ${LG_FUZZ_CXX_FLAGS--march=native}" -DLG_SANITIZE=ON -DLG_WITH_CUDA=OFF \
  -DLG_BUILD_TESTS=OFF -DLG_BUILD_EXAMPLES=OFF -DLG_BUILD_TOOLS=ON -DLG_BUILD_FUZZERS=ON >/dev/null
cmake --build "$build" --target fuzz_safetensors ${LG_FUZZ_JOBS:+-j "$LG_FUZZ_JOBS"}

seeds=$build/seeds
mkdir -p "$seeds" "$build/corpus" "$build/artifacts"

# seed FILE HEADER DATA: an 8-byte little-endian header length, the header
# (ASCII) and the data, given as printf escapes.
seed() {
  local file=$1 header=$2 data=$3 n=${#2}
  printf "$(printf '\\x%02x\\x%02x\\x%02x\\x00\\x00\\x00\\x00\\x00' \
    $((n & 255)) $((n >> 8 & 255)) $((n >> 16 & 255)))" >"$seeds/$file"
  printf '%s' "$header" >>"$seeds/$file"
  printf "$data" >>"$seeds/$file"
}
seed empty '{}' ''
seed f32 '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}' \
  '\x00\x00\x80\x3f\x00\x00\x00\xc0'
seed mixed '{"__metadata__":{"format":"pt","lasergrad.alias.t":"b"},"a":{"dtype":"F64","shape":[],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[1,1],"data_offsets":[8,16]},"c":{"dtype":"BOOL","shape":[3],"data_offsets":[16,19]},"z":{"dtype":"F32","shape":[0,4],"data_offsets":[19,19]}}' \
  '\x00\x00\x00\x00\x00\x00\xf0\x3f\xf9\xff\xff\xff\xff\xff\xff\xff\x01\x00\x01'
seed half '{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[2,1],"data_offsets":[4,8]}}' \
  '\x00\x3c\x01\x00\x80\x3f\x80\xff'

# Tokens of the header schema help the fuzzer past the JSON checks.
dict=$build/safetensors.dict
printf '%s\n' '"\"dtype\""' '"\"shape\""' '"\"data_offsets\""' '"\"__metadata__\""' \
  '"\"F32\""' '"\"F64\""' '"\"I64\""' '"\"BOOL\""' '"\"BF16\""' '"\"F16\""' \
  '"\"lasergrad.alias.\""' '"18446744073709551615"' '"9223372036854775807"' >"$dict"

"$build/tools/fuzz/fuzz_safetensors" "$build/corpus" "$seeds" -dict="$dict" \
  -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 -timeout=10 \
  -artifact_prefix="$build/artifacts/" -print_final_stats=1
