# Sourced by the trainers' run_test.sh (which define fail): checks that a run
# with --diagnose-gradients left gradients.csv with every attention layer's
# columns and the given number of rows of positive finite values.
# check_gradients RUN_DIR ROWS
check_gradients() {
  head -n 1 "$1/gradients.csv" | grep -q "self_attn\.w_q,.*self_attn\.score_jacobian" ||
    fail "gradients.csv columns: $(head -n 1 "$1/gradients.csv" 2>&1)"
  awk -F, -v want="$2" 'NR > 1 { n++; for (i = 2; i <= NF; i++) if (!($i > 0 && $i < 1e9)) bad = 1 }
    END { exit bad || n != want }' "$1/gradients.csv" ||
    fail "gradients.csv: want $2 rows of positive finite values, got: $(cat "$1/gradients.csv")"
}
