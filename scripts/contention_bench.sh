#!/usr/bin/env bash
# The GPT step on a quiet machine and with busy processes competing for the
# cores (lg-bench contention), under several OpenMP wait settings, each run
# REPEATS times in turn (so that every setting sees the same machine): the
# medians over the repeats of the quiet step, the busy step and their ratio.
# Usage: scripts/contention_bench.sh [--lg-bench PATH] [--repeats N] [--settings "A B ..."]
#          [lg-bench contention flags...]
#   e.g. scripts/contention_bench.sh --repeats 3 --threads 2 --runs 7
# Settings: lasergrad's start-up (a short spin), libgomp's default
# (LG_KEEP_OMP_WAIT=1), OMP_WAIT_POLICY=passive, and GOMP_SPINCOUNT=1000 / 100000;
# --settings replaces them ("lasergrad" or VAR=VALUE words).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=${LG_BENCH:-$root/build/bench/lg-bench}
repeats=3
settings=("lasergrad" "LG_KEEP_OMP_WAIT=1" "OMP_WAIT_POLICY=passive" "GOMP_SPINCOUNT=1000" "GOMP_SPINCOUNT=100000")
args=()
while (($#)); do
  case "$1" in
    --lg-bench) bench=${2:?--lg-bench needs a path}; shift 2 ;;
    --repeats) repeats=${2:?--repeats needs a count}; shift 2 ;;
    --settings) read -r -a settings <<<"${2:?--settings needs a list}"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
[[ $repeats =~ ^[1-9][0-9]*$ ]] || { echo "contention_bench.sh: --repeats must be a positive integer" >&2; exit 2; }
[[ -x $bench ]] || { echo "contention_bench.sh: no lg-bench at $bench (cmake --build build --target lg-bench)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for ((r = 1; r <= repeats; r++)); do
  for i in "${!settings[@]}"; do
    s=${settings[$i]}
    env_args=()
    [[ $s == lasergrad ]] || env_args=("$s")
    env "${env_args[@]}" "$bench" contention "${args[@]}" 2>/dev/null |
      grep '"bench":"contention"' >> "$tmp/$i.jsonl"
    echo "repeat $r/$repeats: $s done" >&2
  done
done
machine=$("$bench" softmax --runs 1 --warmup 0 2>/dev/null | grep '"bench":"machine"' || true)
echo "machine: $machine"
printf '| OpenMP wait | quiet step (ms) | busy step (ms) | busy / quiet |\n| --- | --- | --- | --- |\n'
for i in "${!settings[@]}"; do
  awk -v name="${settings[$i]}" '
    function num(key,   i, rest) { i = index($0, "\"" key "\":"); rest = substr($0, i + length(key) + 3); return rest + 0 }
    { q[NR] = num("quiet_step_ms"); b[NR] = num("busy_step_ms"); s[NR] = num("slowdown"); if (!wait) { i = index($0, "\"openmp_wait\":\""); wait = substr($0, i + 15); sub(/".*/, "", wait) } }
    function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t } return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    END { printf "| %s | %.1f | %.1f | %.2fx |\n", wait, med(q, NR), med(b, NR), med(s, NR) }' "$tmp/$i.jsonl"
done
