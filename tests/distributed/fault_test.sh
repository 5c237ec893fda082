#!/usr/bin/env bash
# Runs fault_program on two ranks and checks that the job ends non-zero
# within a bound instead of hanging. Usage: fault_test.sh MPIRUN PROGRAM skip|exit|kill
# skip, exit: LG_DISTRIBUTED_TIMEOUT=3, the timeout message, within 3 + 12 s;
# kill: mpirun notices the dead rank within 30 s (the timeout is 120 s, so
# that it is mpirun, not the timeout, that ends the job).
set -uo pipefail
mpirun=$1 program=$2 mode=$3
case $mode in
  skip | exit) export LG_DISTRIBUTED_TIMEOUT=3; bound=15 ;;
  kill) export LG_DISTRIBUTED_TIMEOUT=120; bound=30 ;;
  *) echo "fault_test: unknown mode '$mode'" >&2; exit 2 ;;
esac
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s%N)
# The hang guard: timeout ends mpirun long after the bound (which fails the test).
timeout --kill-after=5 $((bound + 30)) "$mpirun" --oversubscribe -np 2 "$program" "$mode" >"$log" 2>&1
rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
cat "$log"
echo "fault_test: $mode: exit $rc after ${elapsed_ms} ms (bound ${bound} s)"
failed=0
if ((rc == 0)); then echo "fault_test: FAIL: the job exited 0"; failed=1; fi
if ((elapsed_ms > bound * 1000)); then echo "fault_test: FAIL: slower than ${bound} s"; failed=1; fi
if grep -q "finished all steps" "$log"; then echo "fault_test: FAIL: a rank finished"; failed=1; fi
if [[ $mode != kill ]] && ! grep -q "lasergrad: rank 0: all_reduce timed out after 3 s" "$log"; then
  echo "fault_test: FAIL: no timeout message from rank 0"
  failed=1
fi
exit $failed
