#!/usr/bin/env bash
# lg-gpt --objective mlm end to end on a tiny model: training logs the
# validation MLM error and ends below the unigram baseline it printed;
# --diagnose-gradients writes one finite row per log step for every attention
# layer; a run stopped and resumed logs exactly the losses, MLM errors and
# gradient rows of the uninterrupted one; --fill keeps the text and fills each
# [MASK] with one character; the causal-LM modes refuse the checkpoint.
# Usage: mlm_test.sh LG_GPT RUNS_DIR DATA_FILE
set -euo pipefail
lg_gpt=$1 runs=$2 data=$3
tiny=(--data "$data" --objective mlm --layers 2 --d-model 48 --heads 4 --seq-len 64 --batch 16
      --eval-batches 4 --threads 1 --seed 3 --steps 200 --eval-every 50 --log-every 25 --lr 2e-3 --warmup 20
      --diagnose-gradients)
rm -rf "$runs"/whole "$runs"/split
mkdir -p "$runs"
fail() { echo "FAIL: $*" >&2; exit 1; }

timeout 120 "$lg_gpt" "${tiny[@]}" --out "$runs/whole" > "$runs/whole.log" ||
  fail "training failed: $(tail -3 "$runs/whole.log")"
grep -q '^step,train_loss,val_loss,val_mlm_error,' "$runs/whole/metrics.csv" ||
  fail "metrics.csv has no val_mlm_error column: $(head -1 "$runs/whole/metrics.csv")"
baseline=$(sed -n 's/^unigram baseline: .* MLM error \([0-9.]*\) .*/\1/p' "$runs/whole.log")
final=$(sed -n 's/^final validation loss [0-9.]*, MLM error \([0-9.]*\) .*/\1/p' "$runs/whole.log")
[[ -n $baseline && -n $final ]] || fail "no baseline or final MLM error in the log: $(cat "$runs/whole.log")"
awk -v f="$final" -v b="$baseline" 'BEGIN { exit !(f < b) }' ||
  fail "the final MLM error $final is not below the unigram baseline $baseline"

# gradients.csv: 6 columns for each of the 2 layers, a row at steps 25, 50, ..., 200.
header=$(head -1 "$runs/whole/gradients.csv")
[[ $header == step,blocks.0.self_attn.w_q,blocks.0.self_attn.w_k,blocks.0.self_attn.w_v,blocks.0.self_attn.input,blocks.0.self_attn.softmax_jacobian,blocks.0.self_attn.score_jacobian,blocks.1.self_attn.w_q,* ]] ||
  fail "gradients.csv header: $header"
awk -F, 'NR > 1 { n++; if ($1 != 25 * n || NF != 13) bad = 1
                  for (i = 2; i <= NF; i++) if (!($i > 0 && $i < 1e6)) bad = 1 }
         END { exit bad || n != 8 }' "$runs/whole/gradients.csv" ||
  fail "gradients.csv rows are not 8 rows of 12 positive finite values: $(cat "$runs/whole/gradients.csv")"

# Stopped at step 60 (between log steps) and resumed: the same rows.
timeout 120 "$lg_gpt" "${tiny[@]}" --out "$runs/split" --stop-after 60 > "$runs/split.log"
timeout 120 "$lg_gpt" "${tiny[@]}" --out "$runs/split" --resume >> "$runs/split.log"
losses() { cut -d, -f1-4 "$1/metrics.csv"; }
cmp -s <(losses "$runs/whole") <(losses "$runs/split") ||
  fail "the resumed run's losses differ: $(diff <(losses "$runs/whole") <(losses "$runs/split") | head -5)"
cmp -s "$runs/whole/gradients.csv" "$runs/split/gradients.csv" ||
  fail "the resumed run's gradients.csv differs: $(diff "$runs/whole/gradients.csv" "$runs/split/gradients.csv" | head -5)"

# --fill: the text back, each [MASK] one character.
text='In the beginning [MASK]od created the [MASK]eaven'
filled=$(timeout 60 "$lg_gpt" --out "$runs/whole" --fill "$text" --threads 1 | tail -1)
pattern=${text//\[MASK\]/?}
# shellcheck disable=SC2053  # a glob on purpose: ? is any one character
[[ $filled == $pattern && ${#filled} == "${#pattern}" ]] || fail "--fill printed '$filled' for '$text'"

# The causal-LM modes refuse a masked LM, with one line.
if err=$("$lg_gpt" --out "$runs/whole" --sample 10 2>&1 >/dev/null); then fail "--sample accepted a masked LM"; fi
[[ $err == "lg-gpt: --sample: the checkpoint in $runs/whole is a masked LM"* ]] || fail "--sample said: $err"
echo "ok: MLM error $final (unigram baseline $baseline); filled: $filled"
