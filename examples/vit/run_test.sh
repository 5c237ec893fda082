#!/usr/bin/env bash
# lg-vit's end-to-end tests on a tiny generated data set, driven by ctest:
#   run_test.sh MODE LG_VIT MAKE_TEST_IMAGES OUT
# MODE: smoke | resume | eval-only | predict | resume-checks | flags | sigterm | ranks. Each
# run is bounded by `timeout`; a failure prints what was wrong and exits 1. ranks runs
# $LG_MPIRUN, and reports skipped (exit 77) with $LG_MPI_SKIP's reason without it.
set -u
mode=$1 lg_vit=$2 make_images=$3 out=$4
rm -rf "$out" && mkdir -p "$out"
fail() { echo "FAIL ($mode): $*" >&2; exit 1; }
"$make_images" "$out/data" 600 200 || fail "make_test_images failed"
# 500 training and 100 validation images of 24x24: 10 steps per epoch; the model needs
# ~30 epochs (3 s) to tell the 10 bands apart, which takes learning where each patch is.
tiny=(--data "$out/data" --val-images 100 --patch 4 --d-model 32 --layers 1 --heads 2 --batch 50
      --lr 3e-3 --warmup 10 --threads 1 --log-every 20)
run() { timeout 120 "$lg_vit" "${tiny[@]}" "$@"; }
json_number() {  # $1: file, $2: key
  sed -n "s/.*\"$2\": *\([-0-9.eE+]*\).*/\1/p" "$1" | head -n 1
}
one_line_error() {  # $1: stderr file, $2: regex the line must match
  [ "$(wc -l <"$1")" -eq 1 ] || fail "want one line on stderr, got: $(cat "$1")"
  grep -Eq "^lg-vit: .*$2" "$1" || fail "want 'lg-vit: ...$2', got: $(cat "$1")"
}
# metrics.csv's step, train_loss, val_loss, val_acc and lr columns (not the timings).
losses() { cut -d, -f1-5 "$1/metrics.csv"; }

# check_gradients RUN_DIR ROWS (--diagnose-gradients)
source "$(dirname "${BASH_SOURCE[0]}")/../common/check_gradients.sh"

case $mode in
smoke)
  run --epochs 30 --no-augment --diagnose-gradients --out "$out/run" >"$out/log" 2>&1 ||
    fail "training failed: $(tail "$out/log")"
  check_gradients "$out/run" 15  # 300 steps, --log-every 20
  acc=$(json_number "$out/run/report.json" test_accuracy)
  awk -v a="$acc" 'BEGIN { exit !(a > 0.5) }' || fail "test accuracy $acc, want > 0.5 (chance 0.1)"
  grep -q "test accuracy:" "$out/log" || fail "no test accuracy printed"
  grep -q "confusion matrix" "$out/log" || fail "no confusion matrix printed"
  head -n 1 "$out/run/confusion_matrix.csv" | grep -q "T-shirt/top" || fail "confusion_matrix.csv has no class names"
  head -n 1 "$out/run/metrics.csv" | grep -q "^step,train_loss,val_loss,val_acc,lr,images_per_s" ||
    fail "metrics.csv columns: $(head -n 1 "$out/run/metrics.csv")"
  if command -v gnuplot >/dev/null; then
    for png in confusion_matrix misclassified; do
      [ -s "$out/run/$png.png" ] || fail "no $png.png"
    done
  fi
  [ -z "$(find "$out/run" -name '*.tmp*' -print -quit)" ] || fail "temp files left"
  ;;
resume)
  # Augmentation and dropout on: the loader and the generator must both resume exactly.
  args=(--epochs 3 --dropout 0.1 --eval-every 5)
  run "${args[@]}" --out "$out/whole" >/dev/null 2>&1 || fail "uninterrupted run failed"
  run "${args[@]}" --out "$out/split" --stop-after 13 >"$out/first" 2>&1 || fail "first half failed"
  grep -q "stopped after step 13 of 30" "$out/first" || fail "no stop note: $(cat "$out/first")"
  run "${args[@]}" --out "$out/split" --resume >"$out/second" 2>&1 || fail "resume failed: $(cat "$out/second")"
  grep -q "resuming from .* at step 13" "$out/second" || fail "no resume note"
  diff <(losses "$out/whole") <(losses "$out/split") >"$out/diff" || fail "losses differ: $(cat "$out/diff")"
  cmp -s "$out/whole/checkpoint.safetensors" "$out/split/checkpoint.safetensors" ||
    fail "the checkpoints differ"
  ;;
eval-only)
  run --epochs 4 --no-augment --out "$out/run" >/dev/null 2>&1 || fail "training failed"
  trained=$(json_number "$out/run/report.json" test_accuracy)
  rm "$out/run/report.json"
  "$lg_vit" --data "$out/data" --val-images 100 --out "$out/run" --eval-only >"$out/log" 2>&1 ||
    fail "--eval-only failed: $(cat "$out/log")"
  again=$(json_number "$out/run/report.json" test_accuracy)
  [ -n "$trained" ] && [ "$trained" = "$again" ] || fail "test accuracy $again, the training's $trained"
  "$lg_vit" --data "$out/data" --out "$out/run" --eval-only --layers 3 2>"$out/err" >/dev/null
  [ $? -eq 2 ] || fail "--eval-only --layers 3: want status 2"
  one_line_error "$out/err" "--layers 3 \(the checkpoint's: 1\)"
  ;;
predict)
  run --epochs 30 --no-augment --out "$out/run" >/dev/null 2>&1 || fail "training failed"
  "$lg_vit" --out "$out/run" --predict "$out/data/class3.pgm" >"$out/log" 2>&1 ||
    fail "--predict failed: $(cat "$out/log")"
  # Class 3 of the Fashion-MNIST names (the test data's folder is not called mnist).
  grep -q "class3.pgm: Dress (" "$out/log" || fail "want Dress first: $(cat "$out/log")"
  printf 'P5\n24 24\n255\n' >"$out/truncated.pgm"
  "$lg_vit" --out "$out/run" --predict "$out/truncated.pgm" >/dev/null 2>"$out/err"
  [ $? -eq 2 ] || fail "a truncated PGM: want status 2"
  one_line_error "$out/err" "truncated.pgm"
  ;;
resume-checks)
  run --epochs 1 --out "$out/run" >/dev/null 2>&1 || fail "training failed"
  run --epochs 2 --out "$out/run" --resume --mlp-ratio 3 --seed 9 >/dev/null 2>"$out/err"
  [ $? -eq 2 ] || fail "contradicting flags: want status 2"
  one_line_error "$out/err" "--mlp-ratio 3 \(the checkpoint's: 2\).*--seed 9 \(the checkpoint's: 1\)"
  "$make_images" "$out/other" 610 200 || fail "make_test_images failed"
  timeout 120 "$lg_vit" --data "$out/other" --val-images 100 --out "$out/run" --resume --epochs 2 \
    >/dev/null 2>"$out/err"
  [ $? -eq 2 ] || fail "other training images: want status 2"
  one_line_error "$out/err" "are not the ones the checkpoint trained on"
  ;;
flags)
  d="--data $out/data --val-images 100"
  bad=("$d --patch 0" "$d --d-model 32 --heads 3" "$d --patch 5" "$d --attention linear"
       "$d --pool max" "$d --epochs 0" "$d --lr nan" "$d --lr inf" "$d --batch abc"
       "$d --batch 100000" "$d --no-such-flag" "$d --resume" "$d --eval-only"
       "$d --label-smoothing 1" "$d --dropout 1" "$d --invert" "$d --predict $out/none.png"
       "--data $out/nowhere" "$d --device tpu" "--data $out/data --val-images 600")
  want=("--patch: must be" "not divisible by --heads 3" "patch 5 does not divide" "--attention"
        "--pool" "--epochs" "--lr" "--lr" "--batch" "--batch 100000 is more than the 500 training"
        "no-such-flag" "--resume: no checkpoint" "--eval-only: no checkpoint" "--label-smoothing"
        "--dropout" "--invert needs --predict" "--predict" "nowhere" "--device" "--val-images")
  for i in "${!bad[@]}"; do
    read -r -a flags <<<"${bad[$i]}"
    timeout 60 "$lg_vit" --threads 1 "${flags[@]}" --out "$out/empty" >/dev/null 2>"$out/err"
    rc=$?
    [ $rc -eq 2 ] || fail "lg-vit ${bad[$i]}: want status 2, got $rc: $(cat "$out/err")"
    one_line_error "$out/err" "${want[$i]}"
  done
  gzip -c "$out/data/train-images-idx3-ubyte" | head -c 3000 >"$out/data/train-images-idx3-ubyte.gz"
  rm "$out/data/train-images-idx3-ubyte"
  run --out "$out/empty" >/dev/null 2>"$out/err"
  [ $? -eq 2 ] || fail "a truncated gzip: want status 2"
  one_line_error "$out/err" "train-images-idx3-ubyte.gz"
  ;;
sigterm)
  # --foreground: timeout passes our SIGTERM on to lg-vit once (without it, timeout also
  # signals its process group, and a second SIGTERM means "quit now, no checkpoint").
  timeout --foreground 120 "$lg_vit" "${tiny[@]}" --epochs 100000 --out "$out/run" >"$out/bg" 2>&1 &
  bg=$!
  for _ in $(seq 200); do
    [ -f "$out/run/metrics.csv" ] && [ "$(wc -l <"$out/run/metrics.csv")" -gt 3 ] && break
    sleep 0.05
  done
  kill -TERM $bg
  wait $bg
  rc=$?
  [ $rc -eq 143 ] || fail "want status 143 after SIGTERM, got $rc: $(tail -n 3 "$out/bg")"
  grep -q "interrupted at step" "$out/bg" || fail "no interruption note"
  run --epochs 100000 --out "$out/run" --resume --stop-after 2 >"$out/log" 2>&1 ||
    fail "resume after SIGTERM failed: $(cat "$out/log")"
  ;;
ranks)
  [ -n "${LG_MPIRUN:-}" ] || { echo "skipped: ${LG_MPI_SKIP:-LG_MPIRUN is not set}"; exit 77; }
  # tiny's flags but --batch: each run gives its own.
  flags=()
  for ((i = 0; i < ${#tiny[@]}; i++)); do
    if [ "${tiny[$i]}" = --batch ]; then i=$((i + 1)); else flags+=("${tiny[$i]}"); fi
  done
  two() { timeout 120 "$LG_MPIRUN" --oversubscribe -np 2 "$lg_vit" "${flags[@]}" --batch 25 "$@"; }
  # Augmentation on: it is keyed by the image, so both runs augment alike.
  args=(--epochs 2 --dropout 0 --eval-every 5)
  two "${args[@]}" --out "$out/two" >"$out/two.log" 2>&1 || fail "2 ranks failed: $(tail "$out/two.log")"
  timeout 120 "$lg_vit" "${flags[@]}" --batch 50 "${args[@]}" --out "$out/one" >"$out/one.log" 2>&1 ||
    fail "1 process failed: $(tail "$out/one.log")"
  grep -q "batch 25 per rank.* 2 ranks" "$out/two.log" || fail "no per-rank batch: $(head -n 2 "$out/two.log")"
  # Every step's train_loss, and every evaluation's val_loss and val_acc, to 1e-4 relative.
  [ "$(wc -l <"$out/two/metrics.csv")" -eq 21 ] || fail "want 20 steps in the 2-rank metrics.csv"
  paste -d, <(losses "$out/two") <(losses "$out/one") | awk -F, '
    NR > 1 { for (c = 2; c <= 4; c++) { a = $c; b = $(c + 5)
               if ((a == "") != (b == "")) { print "step " $1 " column " c ": \"" a "\" vs \"" b "\""; bad = 1 }
               else if (a != "" && (a - b > 1e-4 * (b < 0 ? -b : b) || b - a > 1e-4 * (b < 0 ? -b : b))) {
                 print "step " $1 " column " c ": " a " vs " b; bad = 1 } } }
    END { exit bad }' >"$out/diff" || fail "2 ranks x 25 differ from 1 x 50: $(head "$out/diff")"
  [ -f "$out/two/report.json" ] || fail "rank 0 wrote no report.json"
  [ -z "$(find "$out/two" -name '*.tmp*' -print -quit)" ] || fail "temp files left"
  # On 2 ranks, stopped and resumed: the losses of the uninterrupted 2-rank run.
  two "${args[@]}" --out "$out/split" --stop-after 7 >/dev/null 2>&1 || fail "2-rank first half failed"
  two "${args[@]}" --out "$out/split" --resume >"$out/second" 2>&1 || fail "2-rank resume failed: $(tail "$out/second")"
  diff <(losses "$out/two") <(losses "$out/split") >"$out/diff" || fail "2-rank resume differs: $(cat "$out/diff")"
  # The 2-rank checkpoint in one process is refused.
  timeout 120 "$lg_vit" "${flags[@]}" --batch 25 "${args[@]}" --out "$out/two" --resume \
    >/dev/null 2>"$out/err"
  [ $? -eq 2 ] || fail "a 2-rank checkpoint resumed in 1 process: want status 2"
  one_line_error "$out/err" "--resume: the checkpoint was trained on 2 ranks"
  ;;
*) fail "unknown mode" ;;
esac
echo "ok ($mode)"
