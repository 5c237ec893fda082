#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU: builds lasergrad for that
# GPU's architecture only (all cores, Release, warnings as errors), then runs
# the CUDA parity tests (test_cuda, test_cuda_attention), the training tests
# (test_cuda_training: gradcheck on the device, a GPT run against the CPU's
# losses, checkpoints between devices), `lg-bench --device cuda` attention,
# softmax, layer_norm, conv and adamw, 200 steps of `lg-gpt --device cuda`
# (plus its --bench on both devices), a run trained on cuda resumed on the CPU,
# and short lg-vit and lg-speech runs on cuda, each step with its
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
step build 420 cmake --build "$build" -j "$(nproc)" --target test_cuda test_cuda_attention \
  test_cuda_training lg-bench lg-gpt lg-vit lg-speech make_test_images ||
  { echo "$me: the build failed; see $out/build.log" >&2; exit 1; }

step test_cuda 240 "$build/tests/test_cuda" --duration=true
step test_cuda_attention 180 "$build/tests/test_cuda_attention" --duration=true
step bench_attention 120 "$build/bench/lg-bench" --device cuda attention -T 1024 4096
grep '^{' "$out/bench_attention.log" > "$out/bench_attention.jsonl" 2>/dev/null
step test_cuda_training 300 "$build/tests/test_cuda_training" --duration=true
# lg-bench takes one case per run.
for case in softmax layer_norm conv adamw; do
  step "bench_$case" 120 "$build/bench/lg-bench" --device cuda "$case"
  grep '^{' "$out/bench_$case.log" > "$out/bench_$case.jsonl" 2>/dev/null
done

# 200 training steps on a text the repository carries (no download, no Debian bible needed).
cat "$root"/README.md "$root"/docs/*.md > "$out/text.txt"
step gpt_train_cuda 240 "$build/examples/gpt/lg-gpt" --device cuda --data "$out/text.txt" \
  --steps 200 --eval-every 100 --log-every 20 --out "$out/gpt-cuda"
[[ -f $out/gpt-cuda/metrics.jsonl ]] && cp "$out/gpt-cuda/metrics.jsonl" "$out/gpt_train_cuda.jsonl"
step gpt_bench_cuda 180 "$build/examples/gpt/lg-gpt" --bench --device cuda
step gpt_bench_cpu 180 "$build/examples/gpt/lg-gpt" --bench --device cpu
grep -h '^{' "$out/gpt_bench_cuda.log" "$out/gpt_bench_cpu.log" > "$out/gpt_bench.jsonl" 2>/dev/null

# --resume across devices: 20 steps of a small model on cuda, the other 20 on the CPU.
small=(--data "$out/text.txt" --layers 2 --d-model 64 --heads 2 --seq-len 64 --batch 8
       --steps 40 --eval-every 20 --eval-batches 2 --out "$out/gpt-resume")
step gpt_resume_from_cuda 120 "$build/examples/gpt/lg-gpt" "${small[@]}" --device cuda --stop-after 20
step gpt_resume_on_cpu 120 "$build/examples/gpt/lg-gpt" "${small[@]}" --device cpu --resume

# lg-vit on 600 generated images (as its ctest smoke run), lg-speech on 160
# synthesised utterances (the corpus is made on the CPU first): tiny models, seconds each.
step vit_images 60 "$build/examples/vit/make_test_images" "$out/vit-data" 600 200
step vit_train_cuda 120 "$build/examples/vit/lg-vit" --device cuda --data "$out/vit-data" \
  --val-images 100 --patch 4 --d-model 32 --layers 1 --heads 2 --batch 50 --lr 3e-3 \
  --warmup 10 --epochs 5 --log-every 10 --out "$out/vit-cuda"
speech=(--data "$out/speech-corpus" --utterances 160 --d-model 32 --layers 1 --heads 2 --ffn-dim 64
        --conv-kernel 5 --subsampling-channels 8 --batch 16 --lr 3e-3 --warmup 10 --log-every 10)
step speech_prepare 180 "$build/examples/speech/lg-speech" "${speech[@]}" --prepare-only
step speech_train_cuda 180 "$build/examples/speech/lg-speech" "${speech[@]}" --device cuda \
  --epochs 3 --out "$out/speech-cuda"

echo "summary: $summary"
cat "$summary"
exit "$failed"
