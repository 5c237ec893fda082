#!/usr/bin/env bash
# lg-gpt on two ranks (mpirun): 2 ranks x --batch 4 follow 1 process x --batch 8
# (train and validation loss at every step, relative 1e-4), rank 0 alone writes
# the run folder, a 2-rank run stopped and resumed on 2 ranks logs the losses of
# the uninterrupted one, its checkpoint is refused by one process, and a rank
# killed mid-run ends the job, non-zero, within 30 s.
# Usage: ranks_test.sh MPIRUN LG_GPT RUNS_DIR DATA_FILE
set -euo pipefail
mpirun=$1 lg_gpt=$2 runs=$3 data=$4
tiny=(--data "$data" --layers 1 --d-model 32 --heads 2 --seq-len 32 --eval-batches 2 --threads 1
      --seed 7 --eval-every 20 --dropout 0 --log-every 20)
two=("$mpirun" --oversubscribe -np 2)
run=("${tiny[@]}" --steps 100)
rm -rf "$runs"/one "$runs"/two "$runs"/split "$runs"/kill
mkdir -p "$runs"
fail() { echo "FAIL: $*" >&2; exit 1; }

# "step loss" pairs of a metrics file's column.
column() { sed -n "s/.*\"step\":\([0-9]*\).*\"$2\":\([-0-9.eE+][-0-9.eE+]*\).*/\1 \2/p" "$1/metrics.jsonl"; }
# Fails unless both runs logged the column at the same steps within relative 1e-4.
same_curve() {
  paste <(column "$1" "$3") <(column "$2" "$3") | awk -v what="$3" '
    { n++; d = $2 - $4; if (d < 0) d = -d; r = d / ($2 < 0 ? -$2 : $2);
      if ($1 != $3 || r > 1e-4) { print "step " $1 " vs " $3 ": " what " " $2 " vs " $4; bad = 1 } }
    END { if (n == 0) { print "no " what " logged"; bad = 1 } exit bad }' ||
    fail "$1 and $2 differ in $3"
}

timeout 120 "$lg_gpt" "${run[@]}" --batch 8 --out "$runs/one" > "$runs/one.log"
timeout 120 "${two[@]}" "$lg_gpt" "${run[@]}" --batch 4 --bucket-mb 0.05 --out "$runs/two" > "$runs/two.log"
same_curve "$runs/one" "$runs/two" train_loss
same_curve "$runs/one" "$runs/two" val_loss
[[ $(wc -l < "$runs/two/metrics.jsonl") -eq 100 ]] || fail "the 2-rank metrics file is not 100 lines"
[[ $(grep -c "^final validation loss" "$runs/two.log") -eq 1 ]] || fail "not one final line"
grep -q "batch 4 per rank, 100 steps.*threads each, 2 ranks" "$runs/two.log" ||
  fail "the run does not say it trains on 2 ranks"
head -c 4096 "$runs/two/checkpoint.safetensors" | grep -aq '"config.distributed.world_size":"2"' ||
  fail "the checkpoint does not record 2 ranks"

# Stopped at step 50 and resumed on 2 ranks: the uninterrupted run's losses.
timeout 120 "${two[@]}" "$lg_gpt" "${run[@]}" --batch 4 --out "$runs/split" --stop-after 50 \
  > "$runs/split-1.log"
timeout 120 "${two[@]}" "$lg_gpt" "${run[@]}" --batch 4 --out "$runs/split" --resume \
  > "$runs/split-2.log"
cmp <(column "$runs/two" train_loss) <(column "$runs/split" train_loss) ||
  fail "the resumed 2-rank run does not repeat the uninterrupted one"
cmp "$runs/two/checkpoint.safetensors" "$runs/split/checkpoint.safetensors" ||
  fail "the resumed 2-rank run ends with another checkpoint"

# One process refuses the 2-rank checkpoint.
set +e
timeout 120 "$lg_gpt" "${run[@]}" --batch 4 --out "$runs/two" --resume > /dev/null 2> "$runs/one-resume.err"
status=$?
set -e
[[ $status -eq 2 ]] || fail "resuming a 2-rank checkpoint in one process exited $status, not 2"
grep -q "lg-gpt: --resume: the checkpoint was trained on 2 ranks, this run has 1: resume with mpirun -np 2" \
  "$runs/one-resume.err" || fail "unexpected message: $(cat "$runs/one-resume.err")"
# A rank killed with SIGKILL mid-run: mpirun ends the other one and fails.
"${two[@]}" "$lg_gpt" "${tiny[@]}" --batch 4 --steps 1000000 --out "$runs/kill" \
  > "$runs/kill.log" 2>&1 &
job=$!
for _ in $(seq 100); do
  [[ -s $runs/kill/metrics.jsonl ]] && break
  sleep 0.1
done
victim=$(pgrep -f -- "--out $runs/kill" | grep -vx "$job" | tail -n 1)
[[ -n $victim ]] || fail "no rank of the job to kill"
killed_at=$SECONDS
kill -KILL "$victim"
set +e
timeout 60 tail --pid="$job" -f /dev/null
wait "$job"
status=$?
set -e
took=$((SECONDS - killed_at))
[[ $status -ne 0 ]] || fail "mpirun exited 0 after a rank was killed"
((took <= 30)) || fail "the job took ${took} s to end after a rank was killed"
pgrep -f -- "--out $runs/kill" > /dev/null && fail "a rank outlived the job"
echo "ok: 2 ranks follow 1 process, resume on 2 ranks, refusal in 1, killed rank ends the job in ${took} s"
