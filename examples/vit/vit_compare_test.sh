#!/usr/bin/env bash
# Tests scripts/vit_compare.sh against fake_lg_vit.sh (beside this file): the
# summary's means and standard deviations, the flags passed through, the
# curves, the plot (skipped without gnuplot), and its one-line errors.
# Usage: vit_compare_test.sh REPO_ROOT WORK_DIR
set -euo pipefail
root=$1
work=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
compare=$root/scripts/vit_compare.sh
fake=$here/fake_lg_vit.sh
rm -rf "$work"
mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
has() { grep -qF -- "$2" "$1" || fail "$1 lacks: $2"; }

# A folder name with a quote and a space: neither the script nor gnuplot may trip on it.
out="$work/it's a run"
"$compare" --out "$out" --lg-vit "$fake" --epochs 2 --lr 1e-3 > "$work/log" 2>&1 ||
  { cat "$work/log"; fail "vit_compare.sh failed"; }
summary=$out/summary.md
has "$summary" "| LASER | 3 | 82.00% ± 1.00 | 20.0 s |"
has "$summary" "| softmax | 3 | 74.00% ± 2.00 | 7.0 s |"
has "$summary" "| laser seed 2 | 82.00% | 83.20% | 20.0 s |"
has "$summary" "| softmax seed 3 | 76.00% | 73.30% | 8.0 s |"
has "$summary" 'lg-vit flags: `--epochs 2 --lr 1e-3`'
for run in laser-seed1 laser-seed2 laser-seed3 softmax-seed1 softmax-seed2 softmax-seed3; do
  [[ -f $out/$run/report.json ]] || fail "no run folder $run"
done
# The extra flags reach every run, with the script's own after them.
[[ $(tr '\n' ' ' < "$out/softmax-seed2/args.txt") == "--epochs 2 --lr 1e-3 --attention softmax --seed 2 --out $out/softmax-seed2 " ]] ||
  fail "softmax-seed2 got: $(tr '\n' ' ' < "$out/softmax-seed2/args.txt")"
[[ $(head -n 1 "$out/val_accuracy.csv") == step,laser-seed1,laser-seed2,laser-seed3,softmax-seed1,softmax-seed2,softmax-seed3 ]] ||
  fail "val_accuracy.csv header: $(head -n 1 "$out/val_accuracy.csv")"
has "$out/val_accuracy.csv" "200,0.821,0.822,0.823,0.721,0.722,0.723"
[[ $(wc -l < "$out/val_accuracy.csv") -eq 4 ]] || fail "val_accuracy.csv: not 3 evaluated steps"
if command -v gnuplot > /dev/null; then
  [[ $(head -c 8 "$out/val_accuracy.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] ||
    fail "val_accuracy.png is not a PNG"
  (($(stat -c %s "$out/val_accuracy.png") > 5000)) || fail "val_accuracy.png is tiny"
else
  echo "gnuplot is not installed: the plot check is skipped"
fi
leftover=$(find "$out" -maxdepth 1 -name '*.tmp.*' -o -maxdepth 1 -name '*.tsv' -o -maxdepth 1 -name '*.val_acc.csv')
[[ -z $leftover ]] || fail "temporary files left: $leftover"

# Two runs at a time: the same summary, each run's output in its own log.
"$compare" --out "$work/jobs" --jobs 2 --lg-vit "$fake" --epochs 2 --lr 1e-3 > "$work/log" 2>&1 ||
  { cat "$work/log"; fail "vit_compare.sh --jobs 2 failed"; }
has "$work/jobs/summary.md" "| LASER | 3 | 82.00% ± 1.00 | 20.0 s |"
has "$work/jobs/summary.md" "| softmax seed 3 | 76.00% | 73.30% | 8.0 s |"
has "$work/jobs/val_accuracy.csv" "200,0.821,0.822,0.823,0.721,0.722,0.723"
[[ -f $work/jobs/laser-seed2.log ]] || fail "--jobs 2 left no laser-seed2.log"
[[ -z $(find "$work/jobs" -maxdepth 1 -name '*.result') ]] || fail "--jobs 2 left .result files"

# One seed: no spread.
"$compare" --out "$work/one" --seeds 5 --lg-vit "$fake" > "$work/log" 2>&1 || fail "one seed failed"
has "$work/one/summary.md" "| LASER | 1 | 85.00% | 50.0 s |"

# errors EXIT WANT ARGS...: vit_compare.sh fails with status EXIT and says WANT.
errors() {
  local want_rc=$1 want=$2 rc=0
  shift 2
  "$compare" "$@" > "$work/err" 2>&1 || rc=$?
  ((rc == want_rc)) || { cat "$work/err"; fail "$* exited $rc, not $want_rc"; }
  has "$work/err" "$want"
}
errors 2 "--attention is set by this script" --out "$work/e" --lg-vit "$fake" --attention laser
errors 2 "--seed is set by this script" --out "$work/e" --lg-vit "$fake" --seed 4
errors 2 "--seeds: 'x' is not a non-negative integer" --out "$work/e" --lg-vit "$fake" --seeds "1 x"
errors 2 "--seeds: 1 is given twice" --out "$work/e" --lg-vit "$fake" --seeds "1 2 1"
errors 2 "--seeds is empty" --out "$work/e" --lg-vit "$fake" --seeds ""
errors 2 "no lg-vit at $work/none" --out "$work/e" --lg-vit "$work/none"
FAKE_FAIL_SEED=2 errors 1 "lg-vit failed for laser attention, seed 2 (exit 3)" --out "$work/e1" --lg-vit "$fake"
errors 2 "--jobs: '0' is not a positive integer" --out "$work/e" --lg-vit "$fake" --jobs 0
FAKE_FAIL_SEED=2 errors 1 "lg-vit failed for laser attention, seed 2 (exit 3)" --out "$work/e3" --jobs 2 --lg-vit "$fake"
FAKE_NO_REPORT=1 errors 1 "lg-vit wrote no $work/e2/laser-seed1/report.json" --out "$work/e2" --lg-vit "$fake"
echo "vit_compare.sh: all checks passed"
