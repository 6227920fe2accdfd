#!/usr/bin/env bash
# Installs the Debian packages kwire's build, tests and benchmarks need.
# Idempotent: packages already present are left alone and nothing is downloaded.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  clang libclang-rt-14-dev lld
  libboost-dev libfmt-dev doctest-dev libbenchmark-dev nlohmann-json3-dev libre2-dev
  zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev libssl-dev
  libprotobuf-dev protobuf-compiler
  maven openjdk-17-jdk-headless
  python3-venv curl unzip
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
