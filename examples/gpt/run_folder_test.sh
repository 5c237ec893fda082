#!/usr/bin/env bash
# Fault tests of lg-gpt's run folder, driven by ctest:
#   run_folder_test.sh MODE LG_GPT OUT [tiny model flags...]
# MODE: lock | sigterm | stale | fsize | diskfull | symlink | special | sigkill. Each case is
# bounded by `timeout`; a failure prints what was wrong and exits 1.
set -u
mode=$1 lg_gpt=$2 out=$3
shift 3
tiny=("$@")
rm -rf "$out" && mkdir -p "$out"
fail() { echo "FAIL ($mode): $*" >&2; exit 1; }
run() { timeout 60 "$lg_gpt" "${tiny[@]}" "$@"; }

# Starts a long run on $1 in the background (its pid in $bg, so that signals
# reach lg-gpt itself); a watchdog kills it after 120 s, and so does our exit.
start_background() {
  "$lg_gpt" "${tiny[@]}" --steps 1000000 --eval-every 1000000 --out "$1" \
    >"$out/bg.out" 2>"$out/bg.err" &
  bg=$!
  (sleep 120; kill -9 $bg) >/dev/null 2>&1 &
  watchdog=$!
  trap 'kill -9 $bg $watchdog 2>/dev/null' EXIT
}
# Waits (10 s at most) until the command $@ succeeds.
wait_for() {
  for _ in $(seq 200); do "$@" && return 0; sleep 0.05; done
  return 1
}
metrics_rows_at_least() { [ -f "$2/metrics.csv" ] && [ "$(wc -l <"$2/metrics.csv")" -gt "$1" ]; }
no_temp_files() { [ -z "$(find "$1" -name '*.tmp.*' -print -quit)" ]; }
one_line_error() {  # $1: stderr file; the last line is "lg-gpt: ..." matching $2
  tail -n 1 "$1" | grep -Eq "^lg-gpt: .*$2" || fail "want 'lg-gpt: ...$2', got: $(cat "$1")"
}

case $mode in
lock)
  start_background "$out/run"
  wait_for test -s "$out/run/lock" || { kill -9 $bg; fail "no lock file $out/run/lock"; }
  run --steps 2 --out "$out/run" >"$out/second.out" 2>"$out/second.err"
  rc=$?
  kill -9 $bg; wait $bg 2>/dev/null
  [ $rc -eq 2 ] || fail "second run: want status 2, got $rc: $(cat "$out/second.err")"
  [ "$(wc -l <"$out/second.err")" -eq 1 ] || fail "want one line: $(cat "$out/second.err")"
  one_line_error "$out/second.err" "is in use by another lg-gpt run \(pid $bg\)"
  # The killed holder's lock died with it.
  run --steps 2 --out "$out/run" >/dev/null 2>&1 || fail "the lock outlived its holder"
  ;;
sigterm)
  start_background "$out/run"
  wait_for metrics_rows_at_least 3 "$out/run" || { kill -9 $bg; fail "the run did not start"; }
  kill -TERM $bg
  wait $bg
  rc=$?
  [ $rc -eq 143 ] || fail "want status 143 after SIGTERM, got $rc: $(cat "$out/bg.err")"
  [ -f "$out/run/checkpoint.safetensors" ] || fail "no checkpoint saved on SIGTERM"
  grep -q "interrupted at step" "$out/bg.err" || fail "no interruption message: $(cat "$out/bg.err")"
  run --steps 1000000 --eval-every 1000000 --resume --stop-after 2 --out "$out/run" \
    >"$out/resume.out" 2>&1 || fail "--resume failed: $(cat "$out/resume.out")"
  grep -q "resuming from .* at step" "$out/resume.out" || fail "did not resume: $(cat "$out/resume.out")"
  ;;
stale)
  mkdir -p "$out/run"
  for f in checkpoint.safetensors.tmp.99999.0 metrics.csv.tmp.99999 notes.tmp.99999.0 \
           checkpoint.safetensors.tmp.keep; do
    echo stale >"$out/run/$f"
  done
  run --steps 2 --out "$out/run" >/dev/null 2>"$out/err" || fail "run failed: $(cat "$out/err")"
  for f in checkpoint.safetensors.tmp.99999.0 metrics.csv.tmp.99999; do
    [ ! -e "$out/run/$f" ] || fail "stale $f was not removed"
  done
  for f in notes.tmp.99999.0 checkpoint.safetensors.tmp.keep; do
    [ -e "$out/run/$f" ] || fail "$f is not ours and was removed"
  done
  ;;
fsize)
  # A checkpoint of the tiny model is far above 64 KiB; the metrics fit.
  (ulimit -f 64; exec timeout 60 "$lg_gpt" "${tiny[@]}" --steps 2 --out "$out/run") \
    >/dev/null 2>"$out/err"
  rc=$?
  [ $rc -ne 0 ] && [ $rc -lt 128 ] || fail "want an error status, got $rc: $(cat "$out/err")"
  one_line_error "$out/err" "File too large"
  no_temp_files "$out/run" || fail "temp files left: $(ls "$out/run")"
  ;;
diskfull)
  # A metrics write that fails stops training with one line and a checkpoint saved at that
  # step. The fault is ulimit -f (EFBIG, as a full disk gives ENOSPC), on a resumed run whose
  # metrics.jsonl is padded with rows the resume keeps, to just under the limit: the resume's
  # rewrite of it fits, its first new row does not, and the checkpoint is far below the limit.
  run --steps 8 --eval-every 4 --stop-after 2 --out "$out/run" >/dev/null 2>"$out/err" ||
    fail "first run: $(cat "$out/err")"
  jsonl=$out/run/metrics.jsonl
  limit_kib=$(($(stat -c %s "$out/run/checkpoint.safetensors") / 1024 + 64))
  row=$(head -n 1 "$jsonl")
  while [ "$(stat -c %s "$jsonl")" -le $((limit_kib * 1024 - 400)) ]; do echo "$row" >>"$jsonl"; done
  while [ "$(stat -c %s "$jsonl")" -le $((limit_kib * 1024 - 12)) ]; do echo '{"step":1}' >>"$jsonl"; done
  (ulimit -f $limit_kib; exec timeout 60 "$lg_gpt" "${tiny[@]}" --steps 8 --eval-every 4 --resume \
    --out "$out/run") >"$out/resume.out" 2>"$out/resume.err"
  rc=$?
  [ $rc -eq 1 ] || fail "want status 1, got $rc: $(cat "$out/resume.err")"
  [ "$(wc -l <"$out/resume.err")" -eq 1 ] || fail "want one line: $(cat "$out/resume.err")"
  one_line_error "$out/resume.err" "metrics.jsonl.*checkpoint saved"
  run --steps 8 --eval-every 4 --resume --stop-after 3 --out "$out/run" >"$out/again.out" 2>&1 ||
    fail "resume after the failure: $(cat "$out/again.out")"
  grep -q "resuming from .* at step 3" "$out/again.out" ||
    fail "the checkpoint was not saved at the failing step: $(cat "$out/again.out")"
  ;;
symlink)
  # Writing goes through the link, as torch.save(path) would: the link stays.
  mkdir -p "$out/run" "$out/elsewhere"
  ln -s ../elsewhere/ckpt.safetensors "$out/run/checkpoint.safetensors"
  run --steps 4 --stop-after 2 --out "$out/run" >/dev/null 2>"$out/err" || fail "$(cat "$out/err")"
  [ -L "$out/run/checkpoint.safetensors" ] || fail "the symlink was replaced by a regular file"
  [ -f "$out/elsewhere/ckpt.safetensors" ] || fail "the link's target was not written"
  no_temp_files "$out" || fail "temp files left"
  # A run killed mid-write leaves its temp file beside the link's target: the next start
  # removes those of dead pids there (a pid that has exited), keeps those of live ones (this
  # shell's) and other files.
  dead=$(sh -c 'echo $$')
  for f in "ckpt.safetensors.tmp.$dead.0" "ckpt.safetensors.tmp.$dead" "ckpt.safetensors.tmp.$$.0" \
           "other.safetensors.tmp.$dead.0" "ckpt.safetensors.tmp.keep"; do
    echo stale >"$out/elsewhere/$f"
  done
  run --steps 4 --resume --out "$out/run" >"$out/resume.out" 2>&1 || fail "$(cat "$out/resume.out")"
  grep -q "resuming from .* at step 2" "$out/resume.out" || fail "did not resume"
  [ -L "$out/run/checkpoint.safetensors" ] || fail "the resumed run replaced the symlink"
  for f in "ckpt.safetensors.tmp.$dead.0" "ckpt.safetensors.tmp.$dead"; do
    [ ! -e "$out/elsewhere/$f" ] || fail "stale $f beside the link's target was not removed"
  done
  for f in "ckpt.safetensors.tmp.$$.0" "other.safetensors.tmp.$dead.0" "ckpt.safetensors.tmp.keep"; do
    [ -e "$out/elsewhere/$f" ] || fail "$f beside the link's target is not a dead run's and was removed"
  done
  ;;
special)
  # A FIFO, and a device node (/dev/full's numbers) when root, where the
  # checkpoint goes: refused at start-up (status 2), and left in place.
  mkdir -p "$out/fifo" "$out/dev"
  mkfifo "$out/fifo/checkpoint.safetensors"
  kinds=(fifo)
  if [ "$(id -u)" -eq 0 ]; then mknod "$out/dev/checkpoint.safetensors" c 1 7 && kinds+=(dev); fi
  for kind in "${kinds[@]}"; do
    run --steps 2 --out "$out/$kind" >/dev/null 2>"$out/$kind.err"
    rc=$?
    [ $rc -eq 2 ] || fail "$kind: want status 2, got $rc: $(cat "$out/$kind.err")"
    one_line_error "$out/$kind.err" "not a regular file"
    if [ $kind = fifo ]; then test -p "$out/fifo/checkpoint.safetensors" || fail "the FIFO was replaced"
    else test -c "$out/dev/checkpoint.safetensors" || fail "the device node was replaced"; fi
    no_temp_files "$out/$kind" || fail "$kind: temp files left"
  done
  # --resume from a FIFO: refused at start-up instead of blocking in its open().
  timeout 10 "$lg_gpt" "${tiny[@]}" --steps 2 --resume --out "$out/fifo" >/dev/null 2>"$out/resume.err"
  rc=$?
  [ $rc -eq 2 ] || fail "--resume from a FIFO: want status 2, got $rc: $(cat "$out/resume.err")"
  one_line_error "$out/resume.err" "not a regular file"
  ;;
sigkill)
  # SIGKILL at random moments (seeded, printed), each time resumed: the final
  # losses equal an uninterrupted run's bit for bit, and no temp file is left.
  long=(--steps 2500 --eval-every 50 --checkpoint-every 25)
  run "${long[@]}" --out "$out/full" >/dev/null 2>&1 || fail "the uninterrupted run failed"
  seed=${KILL_SEED:-$(date +%s)}
  RANDOM=$seed
  echo "kill seed $seed (KILL_SEED=$seed reruns these kill times)"
  for i in $(seq ${KILLS:-20}); do
    resume=()
    [ -f "$out/run/checkpoint.safetensors" ] && resume=(--resume)
    "$lg_gpt" "${tiny[@]}" "${long[@]}" "${resume[@]}" --out "$out/run" >/dev/null 2>&1 &
    pid=$!
    sleep "0.$(printf %03d $((RANDOM % 400 + 20)))"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    echo "kill $i: metrics to step $(tail -n 1 "$out/run/metrics.csv" 2>/dev/null | cut -d, -f1)," \
      "$(find "$out/run" -name '*.tmp.*' | wc -l) temp files"
  done
  resume=()
  [ -f "$out/run/checkpoint.safetensors" ] && resume=(--resume)
  run "${long[@]}" "${resume[@]}" --out "$out/run" >"$out/last.out" 2>&1 ||
    fail "the last resume failed: $(cat "$out/last.out")"
  # step, train_loss, val_loss, lr: the columns a resumed run must reproduce.
  cut -d, -f1-4 "$out/full/metrics.csv" >"$out/full.csv"
  cut -d, -f1-4 "$out/run/metrics.csv" >"$out/run.csv"
  cmp -s "$out/full.csv" "$out/run.csv" || fail "losses differ: $(diff "$out/full.csv" "$out/run.csv" | head)"
  cmp -s "$out/full/checkpoint.safetensors" "$out/run/checkpoint.safetensors" ||
    fail "the final checkpoints differ"
  no_temp_files "$out/run" || fail "temp files left: $(ls "$out/run")"
  grep -o "resuming from .* at step [0-9]*" "$out/last.out"
  ;;
*) fail "unknown mode" ;;
esac
echo "ok ($mode)"
