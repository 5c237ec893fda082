#!/usr/bin/env bash
# A stand-in for lg-vit in vit_compare_test.sh: writes the files a run leaves
# (metrics.jsonl, report.json) with numbers made from --attention and --seed,
# and its arguments to <out>/args.txt. FAKE_FAIL_SEED=S makes the run of seed S
# fail; FAKE_NO_REPORT=1 leaves report.json out.
set -euo pipefail
attention="" seed="" out=""
all=("$@")
while (($#)); do
  case "$1" in
    --attention) attention=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) shift ;;
  esac
done
[[ -n $attention && -n $seed && -n $out ]] || { echo "fake lg-vit: --attention, --seed and --out are needed" >&2; exit 2; }
if [[ ${FAKE_FAIL_SEED:-} == "$seed" ]]; then echo "fake lg-vit: failing as asked" >&2; exit 3; fi
mkdir -p "$out"
printf '%s\n' "${all[@]}" > "$out/args.txt"
# laser: test accuracy 0.80 + seed / 100, softmax 0.70 + seed / 50; validation accuracy
# base + step / 10000 + seed / 1000 at steps 100, 200, 300 (null at the steps between).
if [[ $attention == laser ]]; then base=0.8; step_acc=100; else base=0.7; step_acc=50; fi
{
  for step in 50 100 150 200 250 300; do
    if ((step % 100 == 0)); then
      val=$(awk -v b="$base" -v s="$step" -v r="$seed" 'BEGIN { printf "%.3f", b + s / 10000 + r / 1000 }')
    else
      val=null
    fi
    echo "{\"step\":$step,\"loss\":0.5,\"val_acc\":$val,\"elapsed_s\":$step}"
  done
} > "$out/metrics.jsonl"
if [[ -z ${FAKE_NO_REPORT:-} ]]; then
  acc=$(awk -v b="$base" -v s="$seed" -v d="$step_acc" 'BEGIN { printf "%.4f", b + s / d }')
  train=$(awk -v s="$seed" -v a="$attention" 'BEGIN { printf "%.1f", a == "laser" ? 10 * s : 5 + s }')
  echo "{\"test_accuracy\": $acc, \"train_seconds\": $train, \"steps\": 300}" > "$out/report.json"
fi
