#!/usr/bin/env bash
# The README's demo command: installs what is missing (with the examples'
# packages), builds lg-mlp (Release) in build/ and trains it. Arguments are
# passed to lg-mlp (see lg-mlp --help); LG_BUILD_DIR picks another build folder.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=${LG_BUILD_DIR:-build}
bash scripts/install-deps.sh --examples
generator=()
[[ -f $build/CMakeCache.txt ]] || generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DLG_BUILD_EXAMPLES=ON
cmake --build "$build" --target lg-mlp
"$build/examples/lg-mlp" "$@"
