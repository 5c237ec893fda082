#!/usr/bin/env bash
# scripts/laser_study.sh on tiny GPT and masked-LM settings (3 seeds each):
# the results page has both rows with means, the paired t-test and the
# gradient tables, where each setting's runs were trained, says why the ViT and speech rows are missing, and a second
# start trains nothing again; a run whose study marker is gone continues from
# its checkpoint. Also the t-test's p-values against known quantiles.
# A pretty-printed report.json (lg-vit's, lg-speech's) gives the metric, and a failed run is
# reported while the others go on.
# Usage: study_test.sh BUILD_DIR RUNS_DIR DATA_FILE
set -euo pipefail
build=$1 runs=$2 data=$3
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$runs"
mkdir -p "$runs"

# Student's t: two-sided p at the 5% quantiles of 1, 2 and 4 degrees of freedom, and t = 2 at 30.
for case in "12.7062 1 0.0500" "4.3027 2 0.0500" "2.7764 4 0.0500" "2 30 0.0546" "0 3 1.0000"; do
  read -r t df want <<<"$case"
  printf 'BEGIN { printf "%%.4f", t_test_p(%s, %s) }\n' "$t" "$df" > "$runs/p.awk"
  got=$(awk -f "$root/scripts/study_stats.awk" -f "$runs/p.awk" /dev/null)
  [[ $got == "$want" ]] || fail "t = $t, df = $df: p = $got, want $want"
done

tiny="--data $data --layers 1 --d-model 32 --heads 2 --seq-len 32 --batch 8 --eval-batches 2 --steps 30 --eval-every 15 --log-every 10"
study=(bash "$root/scripts/laser_study.sh" --build "$build" --out "$runs/study" --results "$runs/page/results.md"
       --trainers "gpt mlm" --seeds "1 2 3" --threads 1 --jobs 2 --gpt-flags "$tiny" --mlm-flags "$tiny")
"${study[@]}" --note "A note." > "$runs/first.log" 2>&1 || fail "the study failed: $(tail -5 "$runs/first.log")"
page=$runs/page/results.md
grep -qx "A note." "$page" || fail "no --note paragraph"
number='[0-9]+\.[0-9]+'
grep -Eq "^\| GPT \(lg-gpt, next character\) \| validation loss \(lower is better\) \| $number ± $number \| $number ± $number \| [+−]$number ± $number \| -?$number \(2\) \| $number \| 3 \+ 3 \|" "$page" ||
  fail "no GPT row with means, a difference and t (2): $(grep -F '| GPT' "$page")"
grep -Eq "^\| masked LM .* \| validation MLM error \(lower is better\) \| $number% ± $number \| $number% ± $number \|" "$page" ||
  fail "no masked-LM row in percent: $(grep -F '| masked LM' "$page")"
grep -Fq "| ViT (lg-vit, Fashion-MNIST) | test accuracy | not run: not in --trainers (gpt mlm) |" "$page" ||
  fail "the ViT row does not say why it is missing: $(grep -F '| ViT' "$page")"
grep -Fq "| Conformer (lg-speech, spoken digits) | test WER | not run: not in --trainers" "$page" ||
  fail "the speech row does not say why it is missing"
[[ $(grep -Ec '^\| `w_q` \| [0-9.e+-]+ \| [0-9.e+-]+ \| [0-9.]+× \|$' "$page") == 2 ]] ||
  fail "no W_Q gradient rows for both settings: $(grep -F 'w_q' "$page")"
# Each record says where it was trained, and the page lists it per setting.
machine_re='^[0-9]{4}-[0-9]{2}-[0-9]{2}, .+ \((AVX-512|AVX2|neither AVX2 nor AVX-512)\), [0-9]+ cores, 2 run\(s\) at a time with --threads 1, lasergrad .+$'
for r in "$runs"/page/study-runs/{gpt,mlm}/*-seed*; do
  grep -Eqx "$machine_re" "$r/machine.txt" || fail "$r/machine.txt: '$(cat "$r/machine.txt" 2>&1)'"
done
grep -Eq '^- GPT \(lg-gpt, next character\): 6 runs: [0-9]{4}-.* lasergrad ' "$page" ||
  fail "the page does not say where the GPT runs were trained: $(grep -F -- '- GPT' "$page")"
if command -v gnuplot > /dev/null; then
  for t in gpt mlm; do
    [[ -s $runs/page/images/study_${t}_gradients.png ]] || fail "no picture for $t"
    grep -Fq "(images/study_${t}_gradients.png)" "$page" || fail "the page does not show the $t picture"
  done
fi

# A second start trains nothing; the page comes out the same but for the date.
"${study[@]}" > "$runs/second.log" 2>&1 || fail "the second start failed: $(tail -5 "$runs/second.log")"
[[ $(grep -c 'done before' "$runs/second.log") == 12 ]] || fail "the second start trained again: $(cat "$runs/second.log")"
# The page comes from the records alone (a study finished on another machine).
grep '^| ' "$page" > "$runs/rows.before"
mv "$runs/study" "$runs/study.moved"
"${study[@]}" --table-only > "$runs/table.log" 2>&1 || fail "--table-only failed: $(cat "$runs/table.log")"
grep '^| ' "$page" | cmp -s - "$runs/rows.before" || fail "the page from the records differs: $(grep '^| ' "$page" | diff - "$runs/rows.before")"
rm -rf "$runs/study" && mv "$runs/study.moved" "$runs/study"
# A run stopped mid-way (no record, no marker) continues from its checkpoint.
rm -r "$runs/study/gpt/laser-seed2/study.done" "$runs/page/study-runs/gpt/laser-seed2"
"${study[@]}" > "$runs/third.log" 2>&1 || fail "the third start failed: $(tail -5 "$runs/third.log")"
grep -q "resuming from" "$runs/study/gpt/laser-seed2.log" || fail "the run did not resume from its checkpoint"
[[ -f $runs/study/gpt/laser-seed2/study.done && -f $runs/page/study-runs/gpt/laser-seed2/result.tsv ]] ||
  fail "the resumed run was not marked done and recorded"
# A trainer without extra flags gets no empty argument (a fake lg-gpt that refuses one).
mkdir -p "$runs/fake/examples/gpt"
cat > "$runs/fake/examples/gpt/lg-gpt" <<'FAKE'
#!/usr/bin/env bash
out=
while (($#)); do
  [[ -n $1 ]] || { echo "lg-gpt: an empty argument" >&2; exit 2; }
  [[ $1 == --out ]] && out=$2
  shift
done
mkdir -p "$out" && echo '{"step":1,"val_loss":1.5}' > "$out/metrics.jsonl"
FAKE
chmod +x "$runs/fake/examples/gpt/lg-gpt"
bash "$root/scripts/laser_study.sh" --build "$runs/fake" --out "$runs/fake-study" --results "$runs/fake-page/results.md" \
  --trainers gpt --seeds 1 > "$runs/fake.log" 2>&1 || fail "the study with no extra flags failed: $(cat "$runs/fake.log")"

# A pretty-printed report.json gives the metric (as lg-vit writes it), and a failed
# run is reported while the others go on (a fake lg-vit that fails softmax, seed 2).
mkdir -p "$runs/fake/examples/vit"
cat > "$runs/fake/examples/vit/lg-vit" <<'FAKE'
#!/usr/bin/env bash
out= attention= seed=
while (($#)); do
  case $1 in --out) out=$2 ;; --attention) attention=$2 ;; --seed) seed=$2 ;; esac
  shift
done
[[ $attention-$seed == softmax-2 ]] && { echo "lg-vit: a failure" >&2; exit 3; }
mkdir -p "$out" && printf '{\n  "attention": "%s",\n  "test_accuracy": 0.8%s\n}\n' "$attention" "$seed" > "$out/report.json"
FAKE
chmod +x "$runs/fake/examples/vit/lg-vit"
bash "$root/scripts/laser_study.sh" --build "$runs/fake" --out "$runs/fake-study" --results "$runs/fake-page/results.md" \
  --trainers vit --seeds "1 2" --jobs 1 > "$runs/fake-vit.log" 2>&1 && fail "the study with a failed run exited 0"
grep -q "vit (softmax, seed 2) failed with exit 3" "$runs/fake-vit.log" || fail "the failed run was not reported: $(cat "$runs/fake-vit.log")"
for run in softmax-seed1 laser-seed1 laser-seed2; do
  r=$runs/fake-page/study-runs/vit/$run/result.tsv
  [[ -f $r ]] || fail "vit $run was not recorded: $(cat "$runs/fake-vit.log")"
  [[ $(cut -f1 "$r") == 0.8${run: -1} ]] || fail "vit $run recorded metric $(cut -f1 "$r")"
done
[[ ! -e $runs/fake-page/study-runs/vit/softmax-seed2 ]] || fail "the failed run was recorded"
grep -Fq '| ViT (lg-vit, Fashion-MNIST) | test accuracy (higher is better) | 81.00% | 81.50% ± 0.71 |' "$runs/fake-page/results.md" ||
  fail "no ViT row from the recorded runs: $(grep 'ViT' "$runs/fake-page/results.md")"
# A record from before machine.txt existed says so on the page.
rm "$runs/fake-page/study-runs/vit/laser-seed2/machine.txt"
bash "$root/scripts/laser_study.sh" --build "$runs/fake" --out "$runs/fake-study" --results "$runs/fake-page/results.md" \
  --trainers vit --seeds "1 2" --table-only > "$runs/fake-table.log" 2>&1 || fail "--table-only failed: $(cat "$runs/fake-table.log")"
grep -Eq '^- ViT \(lg-vit, Fashion-MNIST\): 2 runs: [0-9]{4}-.*; 1 run: not recorded$' "$runs/fake-page/results.md" ||
  fail "the page does not say which ViT run has no machine: $(grep -F -- '- ViT' "$runs/fake-page/results.md")"

# plot_gradients.sh refuses a run without diagnostics, and runs of other models, with one line.
err=$(bash "$root/scripts/plot_gradients.sh" "$runs/study/gpt/softmax-seed1" "$runs" "$runs/x.png" 2>&1) &&
  fail "plot_gradients.sh accepted a folder without gradients.csv"
[[ $err == "plot_gradients.sh: no $runs/gradients.csv (train with --diagnose-gradients)" ]] || fail "plot_gradients.sh said: $err"
if command -v gnuplot > /dev/null; then
  err=$(bash "$root/scripts/plot_gradients.sh" "$runs/study/gpt/softmax-seed1" "$runs/study/mlm/laser-seed1" "$runs/x.png" 2>&1) ||
    fail "plot_gradients.sh failed on two runs of the same shape: $err"
  cut -d, -f1-3 "$runs/study/gpt/laser-seed1/gradients.csv" > "$runs/gradients.csv"
  err=$(bash "$root/scripts/plot_gradients.sh" "$runs/study/gpt/softmax-seed1" "$runs" "$runs/x.png" 2>&1) &&
    fail "plot_gradients.sh accepted runs with other columns"
  [[ $err == *"have other columns"* ]] || fail "plot_gradients.sh said: $err"
fi
echo "ok: $(grep -c '^| ' "$page") table rows"
