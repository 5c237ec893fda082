#!/usr/bin/env bash
# The LASER study: for each trainer (GPT, masked LM, ViT, speech), softmax vs
# LASER attention over several seeds at the trainers' defaults, every run with
# --diagnose-gradients; then a results page (default docs/results.md) with,
# per setting, each attention's final metric (mean ± std over the seeds), the
# paired difference with a paired t-test, the wall time, the gradient signal
# (W_Q, W_K, W_V, attention input and Jacobian, LASER against softmax) and a
# picture of the gradient norms per layer over training.
#
# Usage: scripts/laser_study.sh [--out DIR] [--results FILE] [--seeds "1 2 3"]
#          [--trainers "gpt mlm vit speech"] [--jobs N] [--threads N] [--build DIR]
#          [--gpt-flags "..."] [--mlm-flags "..."] [--vit-flags "..."] [--speech-flags "..."]
#          [--record DIR] [--note TEXT] [--table-only]
# Runs go to OUT/<trainer>/<attention>-seed<S> (default OUT runs/laser-study).
# A finished run is recorded in RECORD/<trainer>/<attention>-seed<S>
# (result.tsv: metric, wall seconds, flags; machine.txt: the date, CPU and
# vector ISA, cores, runs at a time, threads and lasergrad commit it was
# trained with; and its gradients.csv; default
# RECORD: study-runs/ beside the results page, small enough to commit) and
# not trained again while its flags stay the same; the page is written from
# the records, so a study can be finished on another machine. An interrupted
# run continues from its checkpoint (--resume) when the study is started
# again, so the study can be stopped and resumed at any time.
# --jobs N trains N runs at a time, each with --threads T (default: the cores
# divided by N). --table-only rewrites the results page from the finished runs;
# --note adds a paragraph under the page's header (e.g. why a setting is not run).
# The figures (scripts/plot_gradients.sh) go to images/ beside the results
# page (gnuplot; without it the page says so). Extra flags per trainer are recorded on the page.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
me=laser_study.sh
out=runs/laser-study
results=$root/docs/results.md
seeds="1 2 3"
trainers="gpt mlm vit speech"
jobs=1
threads=
build=$root/build
table_only=0
note=""
record=
declare -A extra=([gpt]="" [mlm]="" [vit]="" [speech]="")
die() { echo "$me: $*" >&2; exit 2; }
while (($#)); do
  case "$1" in
    --out) out=${2:?--out needs a folder}; shift 2 ;;
    --results) results=${2:?--results needs a file}; shift 2 ;;
    --seeds) seeds=${2?--seeds needs a list such as \"1 2 3\"}; shift 2 ;;
    --trainers) trainers=${2?--trainers needs a list such as \"gpt mlm\"}; shift 2 ;;
    --jobs) jobs=${2:?--jobs needs a count}; shift 2 ;;
    --threads) threads=${2:?--threads needs a count}; shift 2 ;;
    --build) build=${2:?--build needs a folder}; shift 2 ;;
    --gpt-flags|--mlm-flags|--vit-flags|--speech-flags)
      t=${1#--}; extra[${t%-flags}]=${2?$1 needs a string of flags}; shift 2 ;;
    --table-only) table_only=1; shift ;;
    --note) note=${2?--note needs a text}; shift 2 ;;
    --record) record=${2:?--record needs a folder}; shift 2 ;;
    -h|--help) sed -n '2,/^set -e/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "--jobs: '$jobs' is not a positive integer"
[[ -z $threads ]] && threads=$(( $(nproc) / jobs > 0 ? $(nproc) / jobs : 1 ))
[[ $threads =~ ^[1-9][0-9]*$ ]] || die "--threads: '$threads' is not a positive integer"
read -r -a seed_list <<<"$seeds"
((${#seed_list[@]})) || die "--seeds is empty: give one or more seeds, e.g. --seeds \"1 2 3\""
for s in "${seed_list[@]}"; do [[ $s =~ ^[0-9]+$ ]] || die "--seeds: '$s' is not a non-negative integer"; done
read -r -a trainer_list <<<"$trainers"
for t in "${trainer_list[@]}"; do
  [[ $t =~ ^(gpt|mlm|vit|speech)$ ]] || die "--trainers: '$t' is not one of gpt mlm vit speech"
done
mkdir -p "$out" "$(dirname "$results")"
out=$(cd "$out" && pwd)
images=$(cd "$(dirname "$results")" && pwd)/images
mkdir -p "$images"
[[ -n $record ]] || record=$(dirname "$images")/study-runs
mkdir -p "$record"
record=$(cd "$record" && pwd)

binary() {
  case $1 in
    gpt|mlm) echo "$build/examples/gpt/lg-gpt" ;;
    vit) echo "$build/examples/vit/lg-vit" ;;
    speech) echo "$build/examples/speech/lg-speech" ;;
  esac
}
label() {
  case $1 in
    gpt) echo "GPT (lg-gpt, next character)" ;;
    mlm) echo "masked LM (lg-gpt --objective mlm)" ;;
    vit) echo "ViT (lg-vit, Fashion-MNIST)" ;;
    speech) echo "Conformer (lg-speech, spoken digits)" ;;
  esac
}
# metric name:lower|higher:percent|plain, as study_stats.awk reads it
metric_spec() {
  case $1 in
    gpt) echo "validation loss:lower:plain" ;;
    mlm) echo "validation MLM error:lower:percent" ;;
    vit) echo "test accuracy:higher:percent" ;;
    speech) echo "test WER:lower:percent" ;;
  esac
}
trainer_flags() {  # the flags of every run of trainer $1, one per line (none: no line)
  local -a flags=() more=()
  [[ $1 == mlm ]] && flags+=(--objective mlm)
  read -r -a more <<<"${extra[$1]}"
  flags+=("${more[@]}")
  ((${#flags[@]} == 0)) || printf '%s\n' "${flags[@]}"
}

# The flags of trainer $1 on one line.
flags_line() { trainer_flags "$1" | tr '\n' ' ' | sed 's/ *$//'; }
# The record of a run, and whether it is a finished run with the current flags.
record_dir() { echo "$record/$1/$2-seed$3"; }
recorded() {
  local r
  r=$(record_dir "$@")/result.tsv
  [[ -f $r ]] && [[ $(cut -f3 "$r") == "$(flags_line "$1")" ]]
}
# write_record TRAINER ATTENTION SEED: from the finished run in OUT.
write_record() {
  local dir=$out/$1/$2-seed$3 r
  r=$(record_dir "$@")
  mkdir -p "$r"
  [[ -f $dir/gradients.csv ]] && cp "$dir/gradients.csv" "$r/gradients.csv.tmp" && mv -f "$r/gradients.csv.tmp" "$r/gradients.csv"
  printf '%s\t%s\t%s\n' "$(run_metric "$1" "$dir")" "$(cat "$dir/study.seconds" 2>/dev/null || echo 0)" \
    "$(flags_line "$1")" > "$r/result.tsv.tmp"
  machine_line > "$r/machine.txt"
  mv -f "$r/result.tsv.tmp" "$r/result.tsv"
}

# Where and with what a run is trained, on one line (the record's machine.txt).
machine_line() {
  local cpu isa commit
  cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
  if grep -qw avx512f /proc/cpuinfo; then isa=AVX-512
  elif grep -qw avx2 /proc/cpuinfo; then isa=AVX2
  else isa="neither AVX2 nor AVX-512"; fi
  commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "unknown commit")
  [[ -z $(git -C "$root" status --porcelain --untracked-files=no -- . ':!docs' 2>/dev/null) ]] ||
    commit+=" with uncommitted changes"
  echo "$(date -u +%Y-%m-%d), ${cpu:-unknown CPU} ($isa), $(nproc) cores, $jobs run(s) at a time with --threads $threads, lasergrad $commit"
}

# json_last FILE KEY: KEY's last non-null number in FILE, JSON lines or
# pretty-printed JSON (one key per line, a space after the colon).
json_last() {
  awk -v key="\"$2\":" '
    { i = index($0, key); if (i == 0) next
      rest = substr($0, i + length(key)); sub(/^[ \t]+/, "", rest)
      if (match(rest, /^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?/)) v = substr(rest, 1, RLENGTH) }
    END { if (v == "") exit 1; print v }' "$1"
}

# The finished run's metric.
run_metric() {
  local trainer=$1 dir=$2
  case $trainer in
    gpt) json_last "$dir/metrics.jsonl" val_loss ;;
    mlm) json_last "$dir/metrics.jsonl" val_mlm_error ;;
    vit) json_last "$dir/report.json" test_accuracy ;;
    speech) json_last "$dir/report.json" test_wer ;;
  esac
}

# train_one TRAINER ATTENTION SEED: trains (or continues) one run; marks it done.
train_one() {
  local trainer=$1 attention=$2 seed=$3
  local dir=$out/$trainer/$attention-seed$seed start rc=0 bin
  start=$(date +%s.%N)
  bin=$(binary "$trainer")
  recorded "$trainer" "$attention" "$seed" && return 0
  if [[ -f $dir/study.done && $(tr '\n' ' ' < "$dir/study.done" | sed 's/ *$//') == "$(flags_line "$trainer")" ]]; then
    write_record "$trainer" "$attention" "$seed"
    return 0
  fi
  local -a flags resume=()
  mapfile -t flags < <(trainer_flags "$trainer")
  [[ -f $dir/checkpoint.safetensors ]] && resume=(--resume)
  mkdir -p "$dir"
  "$bin" "${flags[@]}" --attention "$attention" --seed "$seed" --threads "$threads" \
    --diagnose-gradients --out "$dir" "${resume[@]}" >> "$dir.log" 2>&1 || rc=$?
  # Wall time over every start of this run (a resumed run adds its part).
  local before=0
  [[ -f $dir/study.seconds ]] && before=$(cat "$dir/study.seconds")
  awk -v b="$before" -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", b + e - s }' \
    > "$dir/study.seconds"
  if ((rc != 0)); then
    echo "$me: $trainer ($attention, seed $seed) failed with exit $rc; its output: $dir.log" >&2
    tail -n 3 "$dir.log" >&2
    return 1
  fi
  run_metric "$trainer" "$dir" > /dev/null ||
    { echo "$me: $trainer ($attention, seed $seed) finished without its metric ($dir)" >&2; return 1; }
  flags_line "$trainer" > "$dir/study.done"
  write_record "$trainer" "$attention" "$seed"
}

failed=0
if ((!table_only)); then
  runs=()
  for trainer in "${trainer_list[@]}"; do
    bin=$(binary "$trainer")
    [[ -x $bin ]] || { echo "$me: skipping $trainer: no $bin (build it, or pass --build)" >&2; continue; }
    for seed in "${seed_list[@]}"; do
      for attention in softmax laser; do runs+=("$trainer $attention $seed"); done
    done
  done
  total=${#runs[@]} started=0 running=0
  for run in "${runs[@]}"; do
    read -r trainer attention seed <<<"$run"
    # A failed run is reported and the others go on; the script exits 1 at the end.
    if ((running == jobs)); then wait -n || failed=1; running=$((running - 1)); fi
    started=$((started + 1))
    dir=$out/$trainer/$attention-seed$seed
    if recorded "$trainer" "$attention" "$seed"; then
      echo "[$started/$total] $trainer, $attention, seed $seed: done before ($(record_dir "$trainer" "$attention" "$seed"))"
      continue
    fi
    echo "[$started/$total] $trainer, $attention, seed $seed -> $dir (output: $dir.log; $(date +%H:%M:%S))"
    train_one "$trainer" "$attention" "$seed" &
    running=$((running + 1))
  done
  while ((running > 0)); do wait -n || failed=1; running=$((running - 1)); done
fi

# --- the results page, from every finished run ------------------------------
tsv=$out/runs.tsv
: > "$tsv"
missing=""
for trainer in gpt mlm vit speech; do
  found=0
  for seed in "${seed_list[@]}"; do
    for attention in softmax laser; do
      recorded "$trainer" "$attention" "$seed" || continue
      printf '%s\t%s\t%s\t%s\n' "$trainer" "$attention" "$seed" \
        "$(cut -f1,2 "$(record_dir "$trainer" "$attention" "$seed")/result.tsv")" >> "$tsv"
      found=1
    done
  done
  if ((!found)); then
    why="no finished run recorded in $(basename "$record")/$trainer"
    [[ " ${trainer_list[*]} " == *" $trainer "* ]] || why="not in --trainers ($trainers)"
    [[ -x $(binary "$trainer") ]] || why="$(basename "$(binary "$trainer")") is not built"
    missing+="$trainer=$why;"
  fi
done

names="" metrics=""
for t in gpt mlm vit speech; do names+="$t=$(label "$t");"; metrics+="$t=$(metric_spec "$t");"; done

# machines TRAINER: the machine lines of its recorded runs, with counts.
machines() {
  local trainer=$1 seed attention m
  for seed in "${seed_list[@]}"; do
    for attention in softmax laser; do
      recorded "$trainer" "$attention" "$seed" || continue
      m=$(record_dir "$trainer" "$attention" "$seed")/machine.txt
      if [[ -f $m ]]; then cat "$m"; else echo "not recorded"; fi
    done
  done | sort | uniq -c | awk '{ n = $1; sub(/^ *[0-9]+ /, ""); printf "%s%d run%s: %s", (NR > 1 ? "; " : ""), n, (n > 1 ? "s" : ""), $0 }'
}

# grad_table TRAINER: per field, the geometric mean over layers, diagnosed
# steps and seeds of each attention, and their ratio.
grad_fields="w_q w_k w_v input softmax_jacobian score_jacobian"
grad_table() {
  local trainer=$1 seed attention dir
  for seed in "${seed_list[@]}"; do
    for attention in softmax laser; do
      dir=$(record_dir "$trainer" "$attention" "$seed")
      recorded "$trainer" "$attention" "$seed" && [[ -f $dir/gradients.csv ]] || continue
      awk -F, -v a="$attention" -v fields="$grad_fields" '
        NR == 1 { for (i = 2; i <= NF; i++) { f = $i; sub(/.*\./, "", f); field[i] = f }; next }
        { for (i = 2; i <= NF; i++) if ($i != "" && $i > 0) { s[field[i]] += log($i); n[field[i]]++ } }
        END { k = split(fields, fl, " "); for (j = 1; j <= k; j++) if (n[fl[j]]) print a, fl[j], s[fl[j]], n[fl[j]] }' \
        "$dir/gradients.csv"
    done
  done | awk -v fields="$grad_fields" '
    { s[$1, $2] += $3; n[$1, $2] += $4 }
    END {
      k = split(fields, fl, " ")
      for (j = 1; j <= k; j++) {
        f = fl[j]
        if (!n["softmax", f] || !n["laser", f]) continue
        gs = exp(s["softmax", f] / n["softmax", f]); gl = exp(s["laser", f] / n["laser", f])
        printf "| `%s` | %.3g | %.3g | %.2f× |\n", f, gs, gl, gl / gs
      }
    }'
}

# plot TRAINER PNG: scripts/plot_gradients.sh on the first seed both attentions finished.
plot() {
  local trainer=$1 png=$2 seed
  for seed in "${seed_list[@]}"; do
    local soft laser
    soft=$(record_dir "$trainer" softmax "$seed") laser=$(record_dir "$trainer" laser "$seed")
    if recorded "$trainer" softmax "$seed" && recorded "$trainer" laser "$seed" &&
       [[ -f $soft/gradients.csv && -f $laser/gradients.csv ]]; then
      bash "$root/scripts/plot_gradients.sh" "$soft" "$laser" \
        "$png" "$(label "$trainer"), seed $seed"
      return
    fi
  done
  return 1
}

{
  echo "# LASER vs softmax: the study"
  echo
  echo "Generated by \`scripts/laser_study.sh\` on $(date -u +%Y-%m-%d) from the runs recorded in"
  echo "\`$(basename "$record")/\` (where each was trained: below the table); do not edit by hand: run the script again."
  echo "Seeds: ${seed_list[*]}. Every run is the trainer at its defaults plus the flags listed below,"
  echo "once per attention and seed, with \`--diagnose-gradients\`."
  echo
  [[ -z $note ]] || { echo "$note"; echo; }
  echo "| setting | metric | softmax | LASER | LASER − softmax (paired) | t (df) | p | runs (softmax + LASER) | wall time per run (softmax / LASER) | verdict |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  awk -F'\t' -v order="gpt mlm vit speech" -v names="$names" -v metrics="$metrics" -v missing="$missing" \
    -f "$root/scripts/study_stats.awk" "$tsv"
  echo
  echo "Means ± sample standard deviations over the seeds; the difference is LASER minus softmax"
  echo "over the seeds both finished, with a two-sided paired t-test (with 3 seeds only a large and"
  echo "consistent difference reaches p < 0.05: \"no significant difference\" is the honest reading"
  echo "of most rows at this scale). Wall time: the whole run, evaluations included (the first speech"
  echo "run also synthesises the corpus)."
  echo
  echo "Flags beyond the defaults:"
  echo
  for t in gpt mlm vit speech; do
    f=$(trainer_flags "$t" | tr '\n' ' ' | sed 's/ *$//')
    echo "- $(label "$t"): ${f:-(none)}"
  done
  echo
  echo "Where the runs were trained (date, CPU and its vector ISA, cores, runs at a time, threads per"
  echo "run, lasergrad commit; wall times compare the two attentions within a setting, not settings):"
  echo
  for t in gpt mlm vit speech; do
    where=$(machines "$t")
    [[ -n $where ]] && echo "- $(label "$t"): $where"
  done
  echo
  echo "## The gradient signal"
  echo
  echo "What \`--diagnose-gradients\` measured (docs/laser.md, \"The gradient through attention\"):"
  echo "geometric means over layers, diagnosed steps and seeds of each attention's runs, and"
  echo "LASER / softmax."
  for t in gpt mlm vit speech; do
    rows=$(grad_table "$t")
    [[ -n $rows ]] || continue
    echo
    echo "### $(label "$t")"
    echo
    echo "| field | softmax | LASER | LASER / softmax |"
    echo "| --- | --- | --- | --- |"
    echo "$rows"
    png=$images/study_${t}_gradients.png
    if command -v gnuplot > /dev/null && plot "$t" "$png"; then
      echo
      echo "![gradient norms per layer over training, LASER against softmax: $(label "$t")](images/$(basename "$png"))"
    else
      echo
      echo "(No picture: gnuplot is not installed; scripts/install-deps.sh --examples installs it.)"
    fi
  done
} > "$results.tmp.$$"
mv -f "$results.tmp.$$" "$results"
rm -f "$tsv"
echo "results: $results"
if ((failed)); then
  echo "$me: some runs failed (above); the page has the finished ones; run the script again to continue" >&2
  exit 1
fi
