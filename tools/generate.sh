#!/usr/bin/env bash
# Regenerates include/kwire/messages/ from schemas/ (builds kwire-gen first).
# With --check, generates into a temporary directory and fails if the result
# differs from what is committed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KWIRE_BUILD_DIR:-$root/build/default}
if [[ ! -f $build/CMakeCache.txt ]]; then cmake --preset default -S "$root" >/dev/null; fi
cmake --build "$build" --target kwire-gen >/dev/null
if [[ ${1:-} == --check ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$build/tools/kwire-gen" "$root/schemas" "$tmp" 2>/dev/null
  if ! diff -r "$tmp" "$root/include/kwire/messages" >/dev/null; then
    diff -r "$tmp" "$root/include/kwire/messages" | head -40
    echo "include/kwire/messages is not what schemas/ generates; run tools/generate.sh" >&2
    exit 1
  fi
  echo "generated headers match schemas/"
else
  "$build/tools/kwire-gen" "$root/schemas" "$root/include/kwire/messages"
fi
