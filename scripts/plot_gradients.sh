#!/usr/bin/env bash
# Plots two runs' gradient diagnostics (--diagnose-gradients) against each
# other: the gradient norm of W_Q, the gradient norm at the attention input and
# the mean score Jacobian |dO/dS|, per layer over the steps both runs logged,
# the first run dashed, the second solid, on log axes. gnuplot writes the PNG.
#
# Usage: scripts/plot_gradients.sh SOFTMAX_RUN LASER_RUN OUT.png [TITLE]
#   (any two run folders with gradients.csv; the legend calls them softmax and LASER)
set -euo pipefail
me=plot_gradients.sh
(($# >= 3)) || { echo "usage: $me SOFTMAX_RUN LASER_RUN OUT.png [TITLE]" >&2; exit 2; }
soft=$1/gradients.csv laser=$2/gradients.csv png=$3 title=${4:-"$1 against $2"}
for f in "$soft" "$laser"; do
  [[ -f $f ]] || { echo "$me: no $f (train with --diagnose-gradients)" >&2; exit 2; }
done
command -v gnuplot > /dev/null || { echo "$me: gnuplot is not installed (scripts/install-deps.sh --examples)" >&2; exit 2; }
[[ $(head -n 1 "$soft") == "$(head -n 1 "$laser")" ]] ||
  { echo "$me: $soft and $laser have other columns (other models?)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# step, then for w_q, input and score_jacobian: each layer's softmax value, then each layer's
# LASER value; only the steps both runs logged.
awk -F, -v OFS='\t' -v layers_file="$work/layers" '
  FNR == 1 {
    if (NR == 1) {
      for (i = 2; i <= NF; i++) { f = $i; sub(/.*\./, "", f)
        if (f == "w_q") wq[++nq] = i; if (f == "input") inp[++ni] = i; if (f == "score_jacobian") jac[++nj] = i }
      print nq > layers_file
    }
    next
  }
  { row = ""
    for (l = 1; l <= nq; l++) row = row OFS $(wq[l])
    for (l = 1; l <= ni; l++) row = row OFS $(inp[l])
    for (l = 1; l <= nj; l++) row = row OFS $(jac[l]) }
  NR == FNR { first[$1] = row; next }
  $1 in first { n = split(first[$1], a, OFS); split(row, b, OFS); line = $1
    # per field: the softmax layers, then the LASER layers
    for (p = 0; p < 3; p++) {
      for (l = 1; l <= nq; l++) line = line OFS a[1 + p * nq + l]
      for (l = 1; l <= nq; l++) line = line OFS b[1 + p * nq + l]
    }
    print line }' "$soft" "$laser" > "$work/data.tsv"
[[ -s $work/data.tsv ]] || { echo "$me: the two runs logged no step in common" >&2; exit 1; }
layers=$(cat "$work/layers")
# gnuplot 5.4 reads a do-for block from a file, not from standard input.
cat > "$work/plot.gp" <<'GNUPLOT'
set terminal pngcairo size 1200,460 noenhanced
set output png
set datafile separator '\t'
set multiplot layout 1,3 title plot_title.' (solid: LASER, dashed: softmax; colour: layer)'
set logscale y
set xlabel 'step'
set key outside bottom center horizontal font ',8'
set grid
do for [panel = 0:2] {
  set title (panel == 0 ? 'gradient norm of W_Q' : panel == 1 ? 'gradient norm at the attention input' : 'mean |dO/dS| (score Jacobian)')
  base = 2 + panel * 2 * L
  plot for [l = 0:L-1] data using 1:(column(base + l)) with lines dt 2 lc l+1 notitle, \
       for [l = 0:L-1] data using 1:(column(base + L + l)) with lines dt 1 lw 2 lc l+1 title sprintf('layer %d', l)
}
unset multiplot
GNUPLOT
quote() { printf %s "$1" | sed "s/'/''/g"; }
tmp=$png.tmp.$$
gnuplot -e "data = '$(quote "$work/data.tsv")'; png = '$(quote "$tmp")'; L = $layers; plot_title = '$(quote "$title")'" \
  "$work/plot.gp" || { rm -f "$tmp"; exit 1; }
mv -f "$tmp" "$png"
