#!/usr/bin/env bash
# Installs lasergrad's build and test dependencies from Debian (idempotent;
# quick when everything is already there). Usage: scripts/install-deps.sh [--examples]
set -euo pipefail

packages=(build-essential cmake ninja-build libopenblas-openmp-dev doctest-dev
          libcli11-dev nlohmann-json3-dev zlib1g-dev libpng-dev pkg-config
          libsndfile1-dev libsamplerate0-dev libfftw3-dev espeak-ng sox
          libopenmpi-dev openmpi-bin)
if [[ "${1:-}" == "--examples" ]]; then
  packages+=(bible-kjv bible-kjv-text fortunes gnuplot-nox dataset-fashion-mnist
            pocketsphinx-testdata)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: all dependencies present"
