#!/usr/bin/env bash
# lg-speech's end-to-end tests on a tiny synthesised corpus, driven by ctest:
#   run_test.sh MODE LG_SPEECH OUT
# MODE: smoke | resume | eval-only | transcribe | resume-checks | flags | sigterm | ranks.
# Each run is bounded by `timeout`; a failure prints what was wrong and exits 1. ranks
# runs $LG_MPIRUN, and reports skipped (exit 77) with $LG_MPI_SKIP's reason without it.
set -u
mode=$1 lg_speech=$2 out=$3
rm -rf "$out" && mkdir -p "$out"
fail() { echo "FAIL ($mode): $*" >&2; exit 1; }
# 160 utterances (~130 of them training), a Conformer of 1 block, d-model 32: a few
# seconds per epoch on one thread.
tiny=(--data "$out/corpus" --utterances 160 --prepare-threads 2 --d-model 32 --layers 1
      --heads 2 --ffn-dim 64 --conv-kernel 5 --subsampling-channels 8 --batch 16 --lr 3e-3
      --warmup 10 --threads 1 --log-every 20 --worst 3)
run() { timeout 240 "$lg_speech" "${tiny[@]}" "$@"; }
json_number() {  # $1: file, $2: key
  sed -n "s/.*\"$2\": *\([-0-9.eE+]*\).*/\1/p" "$1" | head -n 1
}
one_line_error() {  # $1: stderr file, $2: regex the line must match
  [ "$(wc -l <"$1")" -eq 1 ] || fail "want one line on stderr, got: $(cat "$1")"
  grep -Eq "^lg-speech: .*$2" "$1" || fail "want 'lg-speech: ...$2', got: $(cat "$1")"
}
# metrics.csv's step, train_loss, val_loss, val_wer, val_cer and lr columns (not the timings).
losses() { cut -d, -f1-6 "$1/metrics.csv"; }
column() {  # $1: metrics.csv, $2: column name; prints the column's non-empty values
  awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
                         c && $c != "" { print $c }' "$1"
}

# check_gradients RUN_DIR ROWS (--diagnose-gradients)
source "$(dirname "${BASH_SOURCE[0]}")/../common/check_gradients.sh"

case $mode in
smoke)
  run --prepare-only >"$out/prep" 2>&1 || fail "--prepare-only failed: $(tail -n 3 "$out/prep")"
  [ -s "$out/corpus/manifest.jsonl" ] || fail "no manifest.jsonl"
  run --epochs 12 --diagnose-gradients --out "$out/run" >"$out/log" 2>&1 ||
    fail "training failed: $(tail "$out/log")"
  check_gradients "$out/run" "$(($(tail -n 1 "$out/run/metrics.csv" | cut -d, -f1) / 20))"  # --log-every 20
  grep -q "reus" "$out/log" || fail "the second run did not reuse the corpus: $(head -n 3 "$out/log")"
  first=$(column "$out/run/metrics.csv" train_loss | head -n 1)
  last=$(column "$out/run/metrics.csv" train_loss | tail -n 1)
  awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.7 * a) }' ||
    fail "train loss $first -> $last, want a fall by 30%"
  head -n 1 "$out/run/metrics.csv" | grep -q "^step,train_loss,val_loss,val_wer,val_cer,lr" ||
    fail "metrics.csv columns: $(head -n 1 "$out/run/metrics.csv")"
  wer=$(json_number "$out/run/report.json" test_wer)
  [ -n "$wer" ] || fail "no test_wer in report.json"
  grep -q "^test (.*): WER" "$out/log" || fail "no test WER printed"
  [ -f "$out/run/test_errors.txt" ] || fail "no test_errors.txt"
  [ -z "$(find "$out/run" -name '*.tmp*' -print -quit)" ] || fail "temp files left"
  ;;
resume)
  args=(--epochs 2 --eval-every 5)
  run "${args[@]}" --out "$out/whole" >/dev/null 2>&1 || fail "uninterrupted run failed"
  run "${args[@]}" --out "$out/split" --stop-after 7 >"$out/first" 2>&1 || fail "first half failed"
  grep -q "stopped after step 7 of" "$out/first" || fail "no stop note: $(cat "$out/first")"
  run "${args[@]}" --out "$out/split" --resume >"$out/second" 2>&1 || fail "resume failed: $(cat "$out/second")"
  grep -q "resuming from .* at step 7" "$out/second" || fail "no resume note"
  diff <(losses "$out/whole") <(losses "$out/split") >"$out/diff" || fail "losses differ: $(cat "$out/diff")"
  cmp -s "$out/whole/checkpoint.safetensors" "$out/split/checkpoint.safetensors" ||
    fail "the checkpoints differ"
  ;;
eval-only)
  run --epochs 2 --out "$out/run" >/dev/null 2>&1 || fail "training failed"
  trained=$(json_number "$out/run/report.json" test_wer)
  rm "$out/run/report.json"
  "$lg_speech" --data "$out/corpus" --utterances 160 --out "$out/run" --eval-only --worst 3 \
    >"$out/log" 2>&1 || fail "--eval-only failed: $(cat "$out/log")"
  again=$(json_number "$out/run/report.json" test_wer)
  [ -n "$trained" ] && [ "$trained" = "$again" ] || fail "test WER $again, the training's $trained"
  "$lg_speech" --data "$out/corpus" --utterances 160 --out "$out/run" --eval-only --layers 3 \
    2>"$out/err" >/dev/null
  [ $? -eq 2 ] || fail "--eval-only --layers 3: want status 2"
  one_line_error "$out/err" "--layers 3 \(the checkpoint's: 1\)"
  ;;
transcribe)
  run --epochs 1 --out "$out/run" >/dev/null 2>&1 || fail "training failed"
  wav=$(find "$out/corpus" -name '*.wav' | head -n 1)
  "$lg_speech" --out "$out/run" --transcribe "$wav" >"$out/log" 2>"$out/err" ||
    fail "--transcribe failed: $(cat "$out/err")"
  [ "$(wc -l <"$out/log")" -eq 1 ] || fail "want one transcript line, got: $(cat "$out/log")"
  grep -Eq "^[a-z' ]*$" "$out/log" || fail "transcript has other characters: $(cat "$out/log")"
  # A 44.1 kHz recording is resampled; a stereo one, a text file and a truncated one are refused.
  if command -v sox >/dev/null; then
    sox "$wav" -r 44100 "$out/44k.wav" && "$lg_speech" --out "$out/run" --transcribe "$out/44k.wav" \
      >/dev/null 2>"$out/err" || fail "44.1 kHz audio: $(cat "$out/err")"
    sox "$wav" -c 2 "$out/stereo.wav" 2>/dev/null
    "$lg_speech" --out "$out/run" --transcribe "$out/stereo.wav" >/dev/null 2>"$out/err"
    [ $? -eq 2 ] || fail "stereo audio: want status 2"
    one_line_error "$out/err" "stereo.wav.*channels"
  fi
  echo "not audio" >"$out/text.wav"
  "$lg_speech" --out "$out/run" --transcribe "$out/text.wav" >/dev/null 2>"$out/err"
  [ $? -eq 2 ] || fail "a text file: want status 2"
  one_line_error "$out/err" "text.wav"
  head -c 30 "$wav" >"$out/truncated.wav"
  "$lg_speech" --out "$out/run" --transcribe "$out/truncated.wav" >/dev/null 2>"$out/err"
  [ $? -eq 2 ] || fail "a truncated WAV: want status 2"
  one_line_error "$out/err" "truncated.wav"
  ;;
resume-checks)
  run --epochs 1 --out "$out/run" >/dev/null 2>&1 || fail "training failed"
  run --epochs 2 --out "$out/run" --resume --dropout 0.2 --seed 9 >/dev/null 2>"$out/err"
  [ $? -eq 2 ] || fail "contradicting flags: want status 2"
  one_line_error "$out/err" "--dropout 0.2 \(the checkpoint's: 0.1\).*--seed 9 \(the checkpoint's: 1\)"
  ;;
flags)
  run --prepare-only >/dev/null 2>&1 || fail "--prepare-only failed"
  d="--data $out/corpus --utterances 160"
  bad=("$d --d-model 0" "$d --d-model 30 --heads 4" "$d --conv-kernel 4" "$d --attention linear"
       "$d --epochs 0" "$d --lr nan" "$d --lr inf" "$d --batch abc" "$d --beam 0"
       "$d --utterances 5" "$d --no-such-flag" "$d --resume" "$d --eval-only"
       "$d --dropout 1" "$d --transcribe $out/none.wav" "$d --device tpu"
       "$d --eval-only --bench")
  want=("--d-model: must be" "not divisible by --heads 4" "--conv-kernel 4 is even" "--attention"
        "--epochs" "--lr" "--lr" "--batch" "--beam" "--utterances" "no-such-flag"
        "--resume: no checkpoint" "--eval-only: no checkpoint" "--dropout" "--transcribe"
        "--device" "exclude each other")
  for i in "${!bad[@]}"; do
    read -r -a flags <<<"${bad[$i]}"
    timeout 60 "$lg_speech" --threads 1 "${flags[@]}" --out "$out/empty" >/dev/null 2>"$out/err"
    rc=$?
    [ $rc -eq 2 ] || fail "lg-speech ${bad[$i]}: want status 2, got $rc: $(cat "$out/err")"
    one_line_error "$out/err" "${want[$i]}"
  done
  # A batch larger than the training set, and a corpus too small for the three splits.
  timeout 120 "$lg_speech" --data "$out/corpus" --utterances 160 --threads 1 --batch 100000 \
    --out "$out/empty" >/dev/null 2>"$out/err"
  [ $? -eq 2 ] || fail "--batch 100000: want status 2"
  one_line_error "$out/err" "--batch 100000 is more than the"
  # A manifest line that is not JSON: the corpus is refused or rebuilt, never half-read.
  sed -i '3s/.*/{not json/' "$out/corpus/manifest.jsonl"
  run --epochs 1 --out "$out/again" >"$out/log" 2>&1 ||
    fail "a damaged manifest was neither rebuilt nor refused cleanly: $(tail -n 3 "$out/log")"
  ;;
sigterm)
  # --foreground: timeout passes our SIGTERM on to lg-speech once (without it, timeout also
  # signals its process group, and a second SIGTERM means "quit now, no checkpoint").
  timeout --foreground 240 "$lg_speech" "${tiny[@]}" --epochs 100000 --out "$out/run" >"$out/bg" 2>&1 &
  bg=$!
  for _ in $(seq 1200); do
    [ -f "$out/run/metrics.csv" ] && [ "$(wc -l <"$out/run/metrics.csv")" -gt 2 ] && break
    sleep 0.1
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
  args=(--epochs 2 --dropout 0 --eval-every 5)
  # The 2-rank run comes first: its rank 0 synthesises the corpus, rank 1 then reuses it.
  timeout 240 "$LG_MPIRUN" --oversubscribe -np 2 "$lg_speech" "${flags[@]}" --batch 8 "${args[@]}" \
    --out "$out/two" >"$out/two.log" 2>&1 || fail "2 ranks failed: $(tail "$out/two.log")"
  timeout 240 "$lg_speech" "${flags[@]}" --batch 16 "${args[@]}" --out "$out/one" >"$out/one.log" 2>&1 ||
    fail "1 process failed: $(tail "$out/one.log")"
  grep -q "batch 8 per rank.* 2 ranks" "$out/two.log" || fail "no per-rank batch: $(grep model: "$out/two.log")"
  # The two runs train on the same utterances each step, but not to 1e-4: BatchNorm takes
  # its training statistics over each rank's frames (as PyTorch's DDP does without
  # SyncBatchNorm), and they depend on each part's padding. The first step's loss agrees
  # to 1e-2; then the runs drift apart. So: 2 ranks train, one metrics line per step of
  # the 1-process run's count, finite losses, and rank 0's files alone.
  steps=$(($(wc -l <"$out/one/metrics.csv") - 1))
  [ "$steps" -gt 0 ] && [ "$(wc -l <"$out/two/metrics.csv")" -eq $((steps + 1)) ] &&
    [ "$(wc -l <"$out/two/metrics.jsonl")" -eq "$steps" ] ||
    fail "want $steps steps in the 2-rank metrics.csv and metrics.jsonl"
  paste -d, <(column "$out/two/metrics.csv" train_loss) <(column "$out/one/metrics.csv" train_loss) |
    awk -F, '$1 + 0 != $1 || $1 <= 0 { bad = 1 }
             NR == 1 { d = $1 - $2; if (d < 0) d = -d; if (d > 1e-2 * $2) bad = 1 }
             END { exit bad }' || fail "2-rank losses: $(column "$out/two/metrics.csv" train_loss | head -n 3 | tr '\n' ' ')"
  [ -s "$out/two/checkpoint.safetensors" ] && [ -f "$out/two/report.json" ] ||
    fail "no checkpoint or report.json from rank 0"
  [ "$(ls "$out/two")" = "$(ls "$out/one")" ] || fail "2-rank run folder: $(ls "$out/two" | tr '\n' ' ')"
  # The 2-rank checkpoint in one process is refused.
  timeout 240 "$lg_speech" "${flags[@]}" --batch 8 "${args[@]}" --out "$out/two" --resume \
    >/dev/null 2>"$out/err"
  [ $? -eq 2 ] || fail "a 2-rank checkpoint resumed in 1 process: want status 2"
  one_line_error "$out/err" "--resume: the checkpoint was trained on 2 ranks"
  ;;
*) fail "unknown mode" ;;
esac
echo "ok ($mode)"
