#!/usr/bin/env bash
# Builds everything and runs every test, from a fresh clone on a fresh machine:
#   1. installs the Debian packages the build needs (tools/setup.sh),
#   2. builds with g++ and runs ctest (unit, oracle, interop, Pulsar tests),
#   3. checks that the generated headers match schemas/,
#   4. builds the libFuzzer targets with clang (warnings are errors there) and
#      runs each for a bounded time over its seed corpus.
# Peers (Kafka jars, Pulsar, client libraries) are fetched by the tests
# themselves and cached in the usual places (~/.m2, build/peers, ...).
#
# Environment: FUZZ_SECONDS (default 20) per fuzz target; JOBS (default nproc).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=${JOBS:-$(nproc)}
fuzz_seconds=${FUZZ_SECONDS:-20}

step() { printf '\n== %s\n' "$*"; }

step "setup"
./tools/setup.sh

step "build (g++)"
cmake --preset default >/dev/null
cmake --build --preset default -j "$jobs"

step "generated headers"
./tools/generate.sh --check

step "tests"
ctest --preset default -j "$jobs"

step "fuzz (clang, ASan + UBSan, ${fuzz_seconds}s per target)"
JOBS=$jobs ./tools/fuzz.sh -t "$fuzz_seconds"

step "all checks passed"
