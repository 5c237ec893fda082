#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU: builds lasergrad for that
# GPU's architecture only (all cores, Release, warnings as errors), then runs
# the CUDA parity tests (test_cuda, test_cuda_attention), `lg-bench --device
# cuda attention` and 200 steps of
# `lg-gpt --device cuda` (plus its --bench on both devices), each step with its
# own time limit, and writes every log and JSON line to OUTDIR. A step that
# fails is reported and the others still run; the script exits 1 if any failed.
# About 10 minutes on one H200 (most of it the build).
#
# Usage: scripts/gpu_check.sh OUTDIR [--build DIR] [--arch SM]
#   --build DIR  build folder (default build-gpu); kept, so a rerun is incremental
#   --arch SM    CUDA architecture, e.g. 90 (default: the first GPU's, from nvidia-smi)
# OUTDIR/summary.txt lists each step with its status and seconds.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
me=gpu_check.sh
die() { echo "$me: $*" >&2; exit 2; }
[[ $# -ge 1 && $1 != -* ]] || die "usage: $me OUTDIR [--build DIR] [--arch SM] (see the header)"
out=$1; shift
build=$root/build-gpu
arch=
while (($#)); do
  case $1 in
    --build) build=${2:?--build needs a folder}; shift 2 ;;
    --arch) arch=${2:?--arch needs an architecture such as 90}; shift 2 ;;
    *) die "unknown argument '$1'" ;;
  esac
done
mkdir -p "$out" || die "cannot create $out"
out=$(cd "$out" && pwd)
summary=$out/summary.txt
: > "$summary"

if [[ -z $arch ]]; then
  command -v nvidia-smi > /dev/null || die "no nvidia-smi: pass --arch, or run this on a machine with a GPU"
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' ')
  [[ $cap =~ ^[0-9]+\.[0-9]+$ ]] || die "nvidia-smi gave no compute capability ('$cap'): pass --arch"
  arch=${cap/./}
fi
[[ $arch =~ ^[0-9]+[a-z]?$ ]] || die "--arch: '$arch' is not an architecture such as 90"
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || true
nvcc_bin=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}

failed=0
# step NAME LIMIT_S COMMAND...: runs COMMAND with its output in OUTDIR/NAME.log.
step() {
  local name=$1 limit=$2 start rc
  shift 2
  start=$(date +%s)
  echo "[$(date +%H:%M:%S)] $name (limit ${limit}s, log $out/$name.log)"
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  rc=$?
  local seconds=$(($(date +%s) - start)) status=ok
  ((rc == 124)) && status="timed out"
  ((rc != 0 && rc != 124)) && status="failed (exit $rc)"
  ((rc == 77)) && status="skipped (exit 77: no usable GPU)"
  ((rc != 0)) && failed=1
  printf '%-24s %-36s %5ss\n' "$name" "$status" "$seconds" | tee -a "$summary"
  return "$rc"
}

step configure 300 cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DLG_WERROR=ON \
  -DLG_WITH_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc_bin" -DCMAKE_CUDA_ARCHITECTURES="$arch" ||
  { echo "$me: configure failed; see $out/configure.log" >&2; exit 1; }
step build 420 cmake --build "$build" -j "$(nproc)" --target test_cuda test_cuda_attention lg-bench lg-gpt ||
  { echo "$me: the build failed; see $out/build.log" >&2; exit 1; }

step test_cuda 240 "$build/tests/test_cuda" --duration=true
step test_cuda_attention 180 "$build/tests/test_cuda_attention" --duration=true
step bench_attention 120 "$build/bench/lg-bench" --device cuda attention -T 1024 4096
grep '^{' "$out/bench_attention.log" > "$out/bench_attention.jsonl" 2>/dev/null

# 200 training steps on a text the repository carries (no download, no Debian bible needed).
cat "$root"/README.md "$root"/docs/*.md > "$out/text.txt"
step gpt_train_cuda 240 "$build/examples/gpt/lg-gpt" --device cuda --data "$out/text.txt" \
  --steps 200 --eval-every 100 --log-every 20 --out "$out/gpt-cuda"
[[ -f $out/gpt-cuda/metrics.jsonl ]] && cp "$out/gpt-cuda/metrics.jsonl" "$out/gpt_train_cuda.jsonl"
step gpt_bench_cuda 180 "$build/examples/gpt/lg-gpt" --bench --device cuda
step gpt_bench_cpu 180 "$build/examples/gpt/lg-gpt" --bench --device cpu
grep -h '^{' "$out/gpt_bench_cuda.log" "$out/gpt_bench_cpu.log" > "$out/gpt_bench.jsonl" 2>/dev/null

echo "summary: $summary"
cat "$summary"
exit "$failed"
