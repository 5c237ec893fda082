#!/usr/bin/env bash
# LASER vs softmax attention on the same ViT over several seeds: trains lg-vit
# once per attention and seed (into OUT/<attention>-seed<S>), then writes
# OUT/summary.md (each attention's test accuracy, mean ± standard deviation
# over the seeds, and its times), OUT/val_accuracy.csv (every run's
# validation-accuracy curve) and plots the curves to OUT/val_accuracy.png
# with gnuplot (scripts/install-deps.sh --examples installs it).
#
# Usage: scripts/vit_compare.sh [--out DIR] [--seeds "1 2 3"] [--lg-vit PATH] [lg-vit flags...]
#   e.g. scripts/vit_compare.sh --out runs/vit-compare --epochs 5
# --lg-vit (or LG_VIT) picks the binary (default: build/examples/vit/lg-vit);
# --attention, --seed and --out are set by this script for each run. Each run
# leaves metrics.jsonl (columns "step", "val_acc", ...) and report.json
# ("test_accuracy" in [0, 1], "train_seconds"), which are read here.
set -euo pipefail

out=runs/vit-compare
seeds="1 2 3"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lg_vit=${LG_VIT:-$root/build/examples/vit/lg-vit}
args=()
die() { echo "vit_compare.sh: $*" >&2; exit 2; }
while (($#)); do
  case "$1" in
    --out) out=${2:?--out needs a folder}; shift 2 ;;
    --out=*) out=${1#--out=}; shift ;;
    --seeds) seeds=${2?--seeds needs a list such as \"1 2 3\"}; shift 2 ;;
    --seeds=*) seeds=${1#--seeds=}; shift ;;
    --lg-vit) lg_vit=${2:?--lg-vit needs a path}; shift 2 ;;
    --lg-vit=*) lg_vit=${1#--lg-vit=}; shift ;;
    --attention|--attention=*|--seed|--seed=*|--resume|--predict|--predict=*)
      die "$1 is set by this script or makes no sense here" ;;
    *) args+=("$1"); shift ;;
  esac
done

read -r -a seed_list <<<"$seeds"
((${#seed_list[@]})) || die "--seeds is empty: give one or more seeds, e.g. --seeds \"1 2 3\""
declare -A seen
for s in "${seed_list[@]}"; do
  [[ $s =~ ^[0-9]+$ ]] || die "--seeds: '$s' is not a non-negative integer"
  [[ -z ${seen[$s]:-} ]] || die "--seeds: $s is given twice"
  seen[$s]=1
done
[[ -x $lg_vit ]] || die "no lg-vit at $lg_vit: build it (cmake --build build --target lg-vit), or pass --lg-vit or set LG_VIT"
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
    { echo "vit_compare.sh: $1 has no number \"$2\"" >&2; exit 1; }
}

results=$out/runs.tsv  # attention, seed, test accuracy, train seconds, wall seconds, final val_acc
: > "$results"
runs=()
for attention in laser softmax; do
  for seed in "${seed_list[@]}"; do
    run=$attention-seed$seed
    dir=$out/$run
    echo "== $attention attention, seed $seed -> $dir"
    start=$SECONDS
    rc=0
    "$lg_vit" "${args[@]}" --attention "$attention" --seed "$seed" --out "$dir" || rc=$?
    if ((rc != 0)); then
      echo "vit_compare.sh: lg-vit failed for $attention attention, seed $seed (exit $rc); the runs before it are in $out" >&2
      exit 1
    fi
    wall=$((SECONDS - start))
    for f in metrics.jsonl report.json; do
      [[ -f $dir/$f ]] || { echo "vit_compare.sh: lg-vit wrote no $dir/$f" >&2; exit 1; }
    done
    acc=$(json_number "$dir/report.json" test_accuracy)
    train=$(json_number "$dir/report.json" train_seconds)
    # step,val_acc for the rows that have a validation accuracy.
    awk '
      function value(key,   i, rest) {
        i = index($0, "\"" key "\":"); if (i == 0) return ""
        rest = substr($0, i + length(key) + 3)
        match(rest, /^[^,}]*/); rest = substr(rest, 1, RLENGTH)
        return rest == "null" ? "" : rest
      }
      { s = value("step"); v = value("val_acc"); if (s != "" && v != "") print s "," v }' \
      "$dir/metrics.jsonl" > "$out/$run.val_acc.csv"
    last=$(tail -n 1 "$out/$run.val_acc.csv" | cut -d, -f2)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$attention" "$seed" "$acc" "$train" "$wall" "${last:-}" >> "$results"
    runs+=("$run")
  done
done

# val_accuracy.csv: step, then one column per run (empty where a run has no value at that step).
csv=$out/val_accuracy.csv
{
  (IFS=,; echo "step,${runs[*]}")
  for run in "${runs[@]}"; do cat "$out/$run.val_acc.csv"; done | cut -d, -f1 | sort -n -u |
    while read -r step; do
      line=$step
      for run in "${runs[@]}"; do
        line+=,$(awk -F, -v s="$step" '$1 == s { v = $2 } END { print v }' "$out/$run.val_acc.csv")
      done
      echo "$line"
    done
} > "$csv"
for run in "${runs[@]}"; do rm -f "$out/$run.val_acc.csv"; done

summary=$out/summary.md
awk -F'\t' -v seeds="${seed_list[*]}" -v flags="${args[*]}" '
  function pct(x) { return sprintf("%.2f%%", 100 * x) }
  { n[$1]++; sum[$1] += $3; sq[$1] += $3 * $3; train[$1] += $4; wall[$1] += $5; row[NR] = $0 }
  END {
    print "# lg-vit: LASER vs softmax attention"
    print ""
    print "Seeds " seeds "; lg-vit flags: " (flags == "" ? "(defaults)" : "`" flags "`") "."
    print ""
    print "| attention | runs | test accuracy (mean ± std) | training time (mean) | wall time (mean) |"
    print "| --- | --- | --- | --- | --- |"
    split("laser softmax", kinds, " ")
    for (k = 1; k <= 2; k++) {
      a = kinds[k]; m = sum[a] / n[a]
      if (n[a] > 1) { var = (sq[a] - n[a] * m * m) / (n[a] - 1); if (var < 0) var = 0; spread = " ± " sprintf("%.2f", 100 * sqrt(var)) } else spread = ""
      printf "| %s | %d | %s%s | %.1f s | %.1f s |\n", (a == "laser" ? "LASER" : a), n[a], pct(m), spread, train[a] / n[a], wall[a] / n[a]
    }
    print ""
    print "Standard deviation: over the seeds (n - 1), in percentage points. Training time: report.json'"'"'s train_seconds; wall time: the whole lg-vit run."
    print ""
    print "| run | test accuracy | last validation accuracy | training time | wall time |"
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
  png=$out/val_accuracy.png
  tmp=$png.tmp.$$
  # The file names go in as gnuplot variables (-e), so no quote in them can break the script.
  if ! gnuplot -e "csv = '$(printf %s "$csv" | sed "s/'/''/g")'; png = '$(printf %s "$tmp" | sed "s/'/''/g")'; nlaser = ${#seed_list[@]}; nruns = ${#runs[@]}" - <<'GNUPLOT'
set terminal pngcairo size 900,560 noenhanced
set output png
set datafile separator ','
set datafile missing ''
set title 'lg-vit validation accuracy: LASER (blue) vs softmax (red) attention, one line per seed'
set xlabel 'step'
set ylabel 'validation accuracy (%)'
set key outside right
set grid
# Column i: blue for LASER, red for softmax; one dash pattern per seed.
colour(i) = i <= nlaser + 1 ? '#1f77b4' : '#d62728'
dash(i) = 1 + (i - 2) % nlaser
plot for [i = 2:nruns + 1] csv using 1:(100 * column(i)) with linespoints pt 7 ps 0.5 \
     lc rgb colour(i) dt dash(i) title columnheader(i)
GNUPLOT
  then
    rm -f "$tmp"
    echo "vit_compare.sh: gnuplot failed (see above): no plot" >&2
    exit 1
  fi
  mv "$tmp" "$png"
  echo "plot: $png"
else
  echo "vit_compare.sh: gnuplot is missing (scripts/install-deps.sh --examples installs it): no plot" >&2
fi
