#!/usr/bin/env bash
# lg-gpt on two ranks (mpirun): 2 ranks x --batch 4 follow 1 process x --batch 8
# (train and validation loss at every step, relative 1e-4), rank 0 alone writes
# the run folder, a 2-rank run stopped and resumed on 2 ranks logs the losses of
# the uninterrupted one, and its checkpoint is refused by one process.
# Usage: ranks_test.sh MPIRUN LG_GPT RUNS_DIR DATA_FILE
set -euo pipefail
mpirun=$1 lg_gpt=$2 runs=$3 data=$4
tiny=(--data "$data" --layers 1 --d-model 32 --heads 2 --seq-len 32 --eval-batches 2 --threads 1
      --seed 7 --steps 60 --eval-every 20 --dropout 0 --log-every 20)
two=("$mpirun" --oversubscribe -np 2)
rm -rf "$runs"/one "$runs"/two "$runs"/split
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

timeout 120 "$lg_gpt" "${tiny[@]}" --batch 8 --out "$runs/one" > "$runs/one.log"
timeout 120 "${two[@]}" "$lg_gpt" "${tiny[@]}" --batch 4 --out "$runs/two" > "$runs/two.log"
same_curve "$runs/one" "$runs/two" train_loss
same_curve "$runs/one" "$runs/two" val_loss
[[ $(wc -l < "$runs/two/metrics.jsonl") -eq 60 ]] || fail "the 2-rank metrics file is not 60 lines"
[[ $(grep -c "^final validation loss" "$runs/two.log") -eq 1 ]] || fail "not one final line"
grep -q "batch 4 per rank, 60 steps.*threads each, 2 ranks" "$runs/two.log" ||
  fail "the run does not say it trains on 2 ranks"
head -c 4096 "$runs/two/checkpoint.safetensors" | grep -aq '"config.distributed.world_size":"2"' ||
  fail "the checkpoint does not record 2 ranks"

# Stopped at step 30 and resumed on 2 ranks: the uninterrupted run's losses.
timeout 120 "${two[@]}" "$lg_gpt" "${tiny[@]}" --batch 4 --out "$runs/split" --stop-after 30 \
  > "$runs/split-1.log"
timeout 120 "${two[@]}" "$lg_gpt" "${tiny[@]}" --batch 4 --out "$runs/split" --resume \
  > "$runs/split-2.log"
cmp <(column "$runs/two" train_loss) <(column "$runs/split" train_loss) ||
  fail "the resumed 2-rank run does not repeat the uninterrupted one"
cmp "$runs/two/checkpoint.safetensors" "$runs/split/checkpoint.safetensors" ||
  fail "the resumed 2-rank run ends with another checkpoint"

# One process refuses the 2-rank checkpoint.
set +e
timeout 120 "$lg_gpt" "${tiny[@]}" --batch 4 --out "$runs/two" --resume > /dev/null 2> "$runs/one-resume.err"
status=$?
set -e
[[ $status -eq 2 ]] || fail "resuming a 2-rank checkpoint in one process exited $status, not 2"
grep -q "lg-gpt: --resume: the checkpoint was trained on 2 ranks, this run has 1: resume with mpirun -np 2" \
  "$runs/one-resume.err" || fail "unexpected message: $(cat "$runs/one-resume.err")"
echo "ok: 2 ranks follow 1 process, resume on 2 ranks, refusal in 1"
