#!/usr/bin/env bash
# LASER vs softmax attention on lg-speech over several seeds: test word error
# rate (mean ± std), times, and the validation-WER curves (val_wer.csv/png).
# Usage: scripts/speech_compare.sh [--out DIR] [--seeds "1 2 3"] [--jobs N] [--lg-speech PATH] [lg-speech flags...]
#   e.g. scripts/speech_compare.sh --out runs/speech-compare --epochs 10
# attention_compare.sh (beside this script) does the work and says more.
exec "$(dirname "${BASH_SOURCE[0]}")/attention_compare.sh" --trainer speech "$@"
