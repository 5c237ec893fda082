#!/usr/bin/env bash
# Checks at symbol level that each layer's archive refers only to lasergrad
# symbols (namespace lg, and lg_* C symbols) defined in itself or in the layers
# below it: core links to nothing above it, the backends and ops only to core,
# nn only to ops and core, the top (runtime) to those and the backends, and
# distributed to everything below it.
# Usage: check_layers.sh NM core.a cpu.a ops.a nn.a top.a distributed.a [cuda.a]
set -euo pipefail
nm_tool=$1 core=$2 cpu=$3 ops=$4 nn=$5 top=$6 distributed=$7 cuda=${8:-}

# defined ARCHIVE...: the lasergrad symbols the archives define.
defined() {
  "$nm_tool" -C --defined-only "$@" 2>/dev/null | awk 'NF >= 3 && $2 != "U" { $1 = ""; $2 = ""; print substr($0, 3) }' |
    grep -E '^(lg::|lg_|(vtable|typeinfo|typeinfo name) for lg::)' | sort -u
}
# undefined ARCHIVE: the lasergrad symbols it uses but does not define itself.
undefined() {
  "$nm_tool" -C --undefined-only "$1" 2>/dev/null | awk 'NF >= 2 { $1 = ""; print substr($0, 2) }' |
    grep -E '^(lg::|lg_|(vtable|typeinfo|typeinfo name) for lg::)' | sort -u |
    comm -23 - <(defined "$1")
}

failed=0
# check NAME ARCHIVE ALLOWED...: ARCHIVE's lasergrad references all resolve in ALLOWED.
check() {
  local name=$1 archive=$2
  shift 2
  local missing
  missing=$(undefined "$archive" | comm -23 - <(if (($#)); then defined "$@"; fi))
  if [[ -n $missing ]]; then
    echo "layering: $name refers to symbols of a layer above it (or undefined):"
    sed 's/^/  /' <<<"$missing"
    failed=1
  else
    echo "layering: $name is self-contained over its lower layers"
  fi
}

check core "$core"
check "cpu backend" "$cpu" "$core"
check ops "$ops" "$core"
check nn "$nn" "$ops" "$core"
backends=("$cpu")
if [[ -n $cuda ]]; then
  check "cuda backend" "$cuda" "$core"
  backends+=("$cuda")
fi
check "top (runtime)" "$top" "$nn" "$ops" "${backends[@]}" "$core"
check distributed "$distributed" "$top" "$nn" "$ops" "${backends[@]}" "$core"
exit $failed
