#!/usr/bin/env bash
# LASER vs softmax attention on lg-vit over several seeds: test accuracy (mean ±
# std), times, and the validation-accuracy curves (val_accuracy.csv/png).
# Usage: scripts/vit_compare.sh [--out DIR] [--seeds "1 2 3"] [--jobs N] [--lg-vit PATH] [lg-vit flags...]
#   e.g. scripts/vit_compare.sh --out runs/vit-compare --epochs 5
# attention_compare.sh (beside this script) does the work and says more.
exec "$(dirname "${BASH_SOURCE[0]}")/attention_compare.sh" --trainer vit "$@"
