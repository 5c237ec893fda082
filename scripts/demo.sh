#!/usr/bin/env bash
# The README's main command: installs what is missing (with the examples'
# packages: the King James Bible text, gnuplot), builds lg-gpt (Release) in
# build/ and trains the character-level GPT with LASER attention on the Bible
# (a few minutes on 2 cores), then prints the final validation loss and a
# sample. Arguments are passed to lg-gpt (see lg-gpt --help); LG_BUILD_DIR
# picks another build folder.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=${LG_BUILD_DIR:-build}
bash scripts/install-deps.sh --examples
generator=()
[[ -f $build/CMakeCache.txt ]] || generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DLG_BUILD_EXAMPLES=ON
cmake --build "$build" --target lg-gpt
"$build/examples/gpt/lg-gpt" --attention laser "$@"
