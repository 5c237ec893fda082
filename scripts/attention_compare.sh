#!/usr/bin/env bash
# LASER vs softmax attention on the same model over several seeds, for lg-vit
# (scripts/vit_compare.sh) and lg-speech (scripts/speech_compare.sh): trains
# the trainer once per attention and seed (into OUT/<attention>-seed<S>), then
# writes OUT/summary.md (each attention's test metric, mean ± standard
# deviation over the seeds, and its times), OUT/<curve>.csv (every run's
# validation curve) and plots the curves to OUT/<curve>.png with gnuplot
# (scripts/install-deps.sh --examples installs it).
#
# Usage: scripts/attention_compare.sh --trainer vit|speech [--out DIR] [--seeds "1 2 3"]
#          [--jobs N] [--program PATH] [trainer flags...]
# --jobs N trains N runs at a time (each run's output then goes to
# OUT/<run>.log); give each run --threads so that N x threads fits the cores.
# --program (or --lg-vit / --lg-speech, or LG_VIT / LG_SPEECH) picks the binary
# (default: build/examples/<trainer>/lg-<trainer>); --attention, --seed and --out
# are set by this script for each run. Each run leaves metrics.jsonl (columns
# "step" and the validation metric) and report.json (the test metric in [0, 1],
# "train_seconds"), which are read here.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ ${1:-} == --trainer ]] || { echo "attention_compare.sh: the first argument must be --trainer vit|speech" >&2; exit 2; }
trainer=${2:-}
case $trainer in
  vit)  # higher is better
    me=vit_compare.sh program=lg-vit binary=${LG_VIT:-$root/build/examples/vit/lg-vit}
    metric=test_accuracy metric_name="test accuracy" curve=val_acc curve_file=val_accuracy
    curve_name="validation accuracy" log_y=0 ;;
  speech)  # lower is better
    me=speech_compare.sh program=lg-speech binary=${LG_SPEECH:-$root/build/examples/speech/lg-speech}
    metric=test_wer metric_name="test WER" curve=val_wer curve_file=val_wer
    curve_name="validation WER" log_y=1 ;;  # from ~100% down to ~1%: a log axis shows the end
  *) echo "attention_compare.sh: --trainer must be vit or speech, not '$trainer'" >&2; exit 2 ;;
esac
shift 2
out=runs/$trainer-compare
seeds="1 2 3"
jobs=1
args=()
die() { echo "$me: $*" >&2; exit 2; }
while (($#)); do
  case "$1" in
    --out) out=${2:?--out needs a folder}; shift 2 ;;
    --out=*) out=${1#--out=}; shift ;;
    --seeds) seeds=${2?--seeds needs a list such as \"1 2 3\"}; shift 2 ;;
    --seeds=*) seeds=${1#--seeds=}; shift ;;
    --jobs) jobs=${2:?--jobs needs a count}; shift 2 ;;
    --jobs=*) jobs=${1#--jobs=}; shift ;;
    --program|--lg-vit|--lg-speech) binary=${2:?$1 needs a path}; shift 2 ;;
    --program=*|--lg-vit=*|--lg-speech=*) binary=${1#*=}; shift ;;
    --attention|--attention=*|--seed|--seed=*|--resume|--predict|--predict=*|--transcribe|--transcribe=*)
      die "$1 is set by this script or makes no sense here" ;;
    *) args+=("$1"); shift ;;
  esac
done

[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "--jobs: '$jobs' is not a positive integer"
read -r -a seed_list <<<"$seeds"
((${#seed_list[@]})) || die "--seeds is empty: give one or more seeds, e.g. --seeds \"1 2 3\""
declare -A seen
for s in "${seed_list[@]}"; do
  [[ $s =~ ^[0-9]+$ ]] || die "--seeds: '$s' is not a non-negative integer"
  [[ -z ${seen[$s]:-} ]] || die "--seeds: $s is given twice"
  seen[$s]=1
done
[[ -x $binary ]] || die "no $program at $binary: build it (cmake --build build --target $program), or pass --$program"
mkdir -p "$out"
# Absolute, so that no file name given to gnuplot starts with '<' (which it would run as a command).
out=$(cd "$out" && pwd)

# json_number FILE KEY: the number KEY has in the one-line JSON object of FILE.
json_number() {
  awk -v key="\"$2\"" '
    { i = index($0, key); if (i == 0) next
      rest = substr($0, i + length(key)); sub(/^[ \t]*:[ \t]*/, "", rest)
      if (match(rest, /^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?/)) { print substr(rest, 1, RLENGTH); found = 1; exit } }
    END { if (!found) exit 1 }' "$1" ||
    { echo "$me: $1 has no number \"$2\"" >&2; exit 1; }
}

results=$out/runs.tsv  # attention, seed, test metric, train seconds, wall seconds, last validation value
: > "$results"

# train_one ATTENTION SEED: one run into OUT/<attention>-seed<S>; leaves its
# results line in OUT/<run>.result and its curve in OUT/<run>.curve.csv.
train_one() {
  local attention=$1 seed=$2 run=$1-seed$2 start=$SECONDS rc=0
  local dir=$out/$run
  "$binary" "${args[@]}" --attention "$attention" --seed "$seed" --out "$dir" || rc=$?
  if ((rc != 0)); then
    echo "$me: $program failed for $attention attention, seed $seed (exit $rc); the runs before it are in $out" >&2
    return 1
  fi
  local wall=$((SECONDS - start)) f value train last
  for f in metrics.jsonl report.json; do
    [[ -f $dir/$f ]] || { echo "$me: $program wrote no $dir/$f" >&2; return 1; }
  done
  value=$(json_number "$dir/report.json" "$metric") || return 1
  train=$(json_number "$dir/report.json" train_seconds) || return 1
  # step,value for the rows that have a validation value.
  awk -v key="$curve" '
    function value(key,   i, rest) {
      i = index($0, "\"" key "\":"); if (i == 0) return ""
      rest = substr($0, i + length(key) + 3)
      match(rest, /^[^,}]*/); rest = substr(rest, 1, RLENGTH)
      return rest == "null" ? "" : rest
    }
    { s = value("step"); v = value(key); if (s != "" && v != "") print s "," v }' \
    "$dir/metrics.jsonl" > "$out/$run.curve.csv"
  last=$(tail -n 1 "$out/$run.curve.csv" | cut -d, -f2)
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$attention" "$seed" "$value" "$train" "$wall" "${last:-}" > "$out/$run.result"
}

runs=()
for attention in laser softmax; do
  for seed in "${seed_list[@]}"; do runs+=("$attention-seed$seed"); done
done
if ((jobs == 1)); then
  for run in "${runs[@]}"; do
    echo "== ${run%-seed*} attention, seed ${run##*-seed} -> $out/$run"
    train_one "${run%-seed*}" "${run##*-seed}" || exit 1
  done
else
  # JOBS runs at a time, each one's output in OUT/<run>.log; a failure stops
  # new runs, lets the started ones finish, and is reported in run order.
  running=0 failed=0
  for run in "${runs[@]}"; do
    if ((running == jobs)); then wait -n || failed=1; running=$((running - 1)); fi
    ((failed)) && break
    echo "== ${run%-seed*} attention, seed ${run##*-seed} -> $out/$run (output: $out/$run.log)"
    train_one "${run%-seed*}" "${run##*-seed}" > "$out/$run.log" 2>&1 &
    running=$((running + 1))
  done
  while ((running > 0)); do wait -n || failed=1; running=$((running - 1)); done
  if ((failed)); then
    for run in "${runs[@]}"; do
      [[ -f $out/$run.result ]] && continue
      [[ -f $out/$run.log ]] && { grep -h "^$me: " "$out/$run.log" >&2 || tail -n 5 "$out/$run.log" >&2; }
      break
    done
    exit 1
  fi
fi
for run in "${runs[@]}"; do cat "$out/$run.result"; rm -f "$out/$run.result"; done >> "$results"

# <curve_file>.csv: step, then one column per run (empty where a run has no value at that step).
csv=$out/$curve_file.csv
{
  (IFS=,; echo "step,${runs[*]}")
  for run in "${runs[@]}"; do cat "$out/$run.curve.csv"; done | cut -d, -f1 | sort -n -u |
    while read -r step; do
      line=$step
      for run in "${runs[@]}"; do
        line+=,$(awk -F, -v s="$step" '$1 == s { v = $2 } END { print v }' "$out/$run.curve.csv")
      done
      echo "$line"
    done
} > "$csv"
for run in "${runs[@]}"; do rm -f "$out/$run.curve.csv"; done

summary=$out/summary.md
awk -F'\t' -v seeds="${seed_list[*]}" -v flags="${args[*]}" -v program="$program" -v metric="$metric_name" -v curve="$curve_name" '
  function pct(x) { return sprintf("%.2f%%", 100 * x) }
  { n[$1]++; sum[$1] += $3; sq[$1] += $3 * $3; train[$1] += $4; wall[$1] += $5; row[NR] = $0 }
  END {
    print "# " program ": LASER vs softmax attention"
    print ""
    print "Seeds " seeds "; " program " flags: " (flags == "" ? "(defaults)" : "`" flags "`") "."
    print ""
    print "| attention | runs | " metric " (mean ± std) | training time (mean) | wall time (mean) |"
    print "| --- | --- | --- | --- | --- |"
    split("laser softmax", kinds, " ")
    for (k = 1; k <= 2; k++) {
      a = kinds[k]; m = sum[a] / n[a]
      if (n[a] > 1) { var = (sq[a] - n[a] * m * m) / (n[a] - 1); if (var < 0) var = 0; spread = " ± " sprintf("%.2f", 100 * sqrt(var)) } else spread = ""
      printf "| %s | %d | %s%s | %.1f s | %.1f s |\n", (a == "laser" ? "LASER" : a), n[a], pct(m), spread, train[a] / n[a], wall[a] / n[a]
    }
    print ""
    print "Standard deviation: over the seeds (n - 1), in percentage points. Training time: report.json'"'"'s train_seconds; wall time: the whole " program " run."
    print ""
    print "| run | " metric " | last " curve " | training time | wall time |"
    print "| --- | --- | --- | --- | --- |"
    for (i = 1; i <= NR; i++) {
      split(row[i], f, "\t")
      printf "| %s seed %s | %s | %s | %.1f s | %d s |\n", f[1], f[2], pct(f[3]), (f[6] == "" ? "-" : pct(f[6])), f[4], f[5]
    }
  }' "$results" > "$summary"
rm -f "$results"
cat "$summary"
echo "curves: $csv"

if command -v gnuplot > /dev/null; then
  png=$out/$curve_file.png
  tmp=$png.tmp.$$
  # The file names go in as gnuplot variables (-e), so no quote in them can break the script.
  if ! gnuplot -e "csv = '$(printf %s "$csv" | sed "s/'/''/g")'; png = '$(printf %s "$tmp" | sed "s/'/''/g")'; nlaser = ${#seed_list[@]}; nruns = ${#runs[@]}; program = '$program'; curve = '$curve_name'; log_y = $log_y" - <<'GNUPLOT'
set terminal pngcairo size 900,560 noenhanced
set output png
set datafile separator ','
set datafile missing ''
set title program . ' ' . curve . ': LASER (blue) vs softmax (red) attention, one line per seed'
set xlabel 'step'
set ylabel curve . ' (%)'
set key outside right
set grid
if (log_y) set logscale y
# Column i: blue for LASER, red for softmax; one dash pattern per seed.
colour(i) = i <= nlaser + 1 ? '#1f77b4' : '#d62728'
dash(i) = 1 + (i - 2) % nlaser
plot for [i = 2:nruns + 1] csv using 1:(100 * column(i)) with linespoints pt 7 ps 0.5 \
     lc rgb colour(i) dt dash(i) title columnheader(i)
GNUPLOT
  then
    rm -f "$tmp"
    echo "$me: gnuplot failed (see above): no plot" >&2
    exit 1
  fi
  mv "$tmp" "$png"
  echo "plot: $png"
else
  echo "$me: gnuplot is missing (scripts/install-deps.sh --examples installs it): no plot" >&2
fi
