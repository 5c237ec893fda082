#!/usr/bin/env bash
# Data-parallel scaling of lg-gpt's benchmark step on this machine: 1 process
# with 1 thread, 1 process with 2 threads, and 2 ranks (mpirun -np 2) with 1
# thread each, interleaved, RUNS times each (default 3); prints each run's JSON
# line and a table of medians: step time, tokens/s, scaling efficiency (2
# ranks' tokens/s over twice 1 thread's) and the communication wait that
# backward did not hide (share of the step).
# Usage: scripts/ddp_bench.sh [--lg-gpt PATH] [--runs N] [-- extra lg-gpt flags]
set -euo pipefail
lg_gpt=build/examples/gpt/lg-gpt runs=3
while (($#)); do
  case $1 in
    --lg-gpt) lg_gpt=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "ddp_bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x $lg_gpt ]] || { echo "ddp_bench.sh: no lg-gpt at $lg_gpt (build first, or --lg-gpt PATH)" >&2; exit 2; }
command -v mpirun > /dev/null || { echo "ddp_bench.sh: mpirun not found (scripts/install-deps.sh)" >&2; exit 2; }
mpi=(mpirun --oversubscribe -np 2)
[[ $(id -u) -eq 0 ]] && mpi+=(--allow-run-as-root)

declare -A lines
for ((i = 1; i <= runs; i++)); do
  for setup in one-thread two-threads two-ranks; do
    case $setup in
      one-thread) line=$("$lg_gpt" --bench --threads 1 "$@") ;;
      two-threads) line=$("$lg_gpt" --bench --threads 2 "$@") ;;
      two-ranks) line=$(OMP_NUM_THREADS=1 "${mpi[@]}" "$lg_gpt" --bench --threads 1 "$@") ;;
    esac
    echo "$setup: $line"
    lines[$setup]+="$line"$'\n'
  done
done

# The median of one JSON field over a setup's lines.
median() {
  sed -n "s/.*\"$2\":\([-0-9.eE+]*\).*/\1/p" <<< "${lines[$1]}" | sort -g |
    awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
one=$(median one-thread tokens_per_s)
printf '\n%-28s %12s %12s %11s %15s\n' "lg-gpt --bench (medians of $runs)" "step ms" "tokens/s" "efficiency" "comm wait"
for setup in one-thread two-threads two-ranks; do
  tok=$(median $setup tokens_per_s)
  printf '%-28s %12.1f %12.0f %10.0f%% %9.1f ms %3.0f%%\n' "$setup" "$(median $setup median_step_ms)" \
    "$tok" "$(awk -v t="$tok" -v o="$one" -v s="$setup" 'BEGIN { print (s == "one-thread" ? 100 : 100 * t / (2 * o)) }')" \
    "$(median $setup comm_wait_ms)" "$(awk -v s="$(median $setup comm_wait_share)" 'BEGIN { print 100 * s }')"
done
