#!/usr/bin/env bash
# LASER vs softmax attention on the same GPT: trains lg-gpt twice with the same
# seed and settings (one run per attention, into OUT/laser and OUT/softmax),
# joins the two validation-loss curves into OUT/val_loss.csv and plots them to
# OUT/val_loss.png with gnuplot (scripts/install-deps.sh --examples installs it).
#
# Usage: scripts/gpt_compare.sh [--out DIR] [lg-gpt flags...]
#   e.g. scripts/gpt_compare.sh --out runs/compare --steps 1000
# LG_GPT picks the binary (default: build/examples/gpt/lg-gpt); --attention and
# --out are set by this script for each run.
set -euo pipefail

out=runs/gpt-compare
args=()
while (($#)); do
  case "$1" in
    --out) out=${2:?--out needs a folder}; shift 2 ;;
    --out=*) out=${1#--out=}; shift ;;
    --attention|--attention=*|--resume|--sample|--sample=*|--bench)
      echo "gpt_compare.sh: $1 is set by this script or makes no sense here" >&2; exit 2 ;;
    *) args+=("$1"); shift ;;
  esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lg_gpt=${LG_GPT:-$root/build/examples/gpt/lg-gpt}
if [[ ! -x $lg_gpt ]]; then
  echo "gpt_compare.sh: no lg-gpt at $lg_gpt: build it (cmake --build build --target lg-gpt) or set LG_GPT" >&2
  exit 2
fi
mkdir -p "$out"

declare -A wall
for attention in laser softmax; do
  echo "== $attention attention"
  start=$SECONDS
  "$lg_gpt" "${args[@]}" --attention "$attention" --out "$out/$attention"
  wall[$attention]=$((SECONDS - start))
done

# step,laser_val_loss,softmax_val_loss: the evaluated steps of either run.
csv=$out/val_loss.csv
awk -F, '
  FNR == 1 { for (i = 1; i <= NF; i++) if ($i == "val_loss") col = i; run = (FILENAME ~ /\/laser\//) ? 1 : 2; next }
  $col != "" { v[$1, run] = $col; steps[$1] = 1 }
  END {
    print "step,laser_val_loss,softmax_val_loss"
    n = 0; for (s in steps) order[++n] = s + 0
    for (i = 2; i <= n; i++) { x = order[i]; for (j = i - 1; j >= 1 && order[j] > x; j--) order[j + 1] = order[j]; order[j + 1] = x }
    for (i = 1; i <= n; i++) { s = order[i]; print s "," v[s, 1] "," v[s, 2] }
  }' "$out/laser/metrics.csv" "$out/softmax/metrics.csv" > "$csv"

final() { awk -F, 'NR > 1 && $2 != "" { l = $2 } NR > 1 && $3 != "" { s = $3 } END { print l, s }' "$csv"; }
read -r laser_final softmax_final < <(final)
printf 'final validation loss: laser %s (%ss), softmax %s (%ss)\n' \
  "$laser_final" "${wall[laser]}" "$softmax_final" "${wall[softmax]}"
echo "curves: $csv"

if command -v gnuplot > /dev/null; then
  png=$out/val_loss.png
  gnuplot <<GNUPLOT
set terminal pngcairo size 900,560 noenhanced
set output '$png'
set datafile separator ','
set datafile missing ''
set title 'lg-gpt validation loss: LASER vs softmax attention'
set xlabel 'step'
set ylabel 'validation loss (nats per character)'
set key top right
set grid
plot '$csv' using 1:2 with linespoints title 'laser', \
     '$csv' using 1:3 with linespoints title 'softmax'
GNUPLOT
  echo "plot: $png"
else
  echo "gpt_compare.sh: gnuplot is missing (scripts/install-deps.sh --examples installs it): no plot" >&2
fi
