#!/usr/bin/env bash
# Builds everything and runs every test, from a fresh clone on a fresh machine:
#   1. installs the Debian packages the build needs (tools/setup.sh),
#   2. builds with g++ and runs ctest (unit, oracle, interop, Pulsar tests),
#   3. checks that the generated headers match schemas/,
#   4. builds the libFuzzer targets with clang (warnings are errors there) and
#      runs each for a bounded time over its seed corpus,
#   5. builds kwire-broker with ASan and UBSan and runs the topic churn stress
#      test against it for a bounded time.
# Peers (Kafka jars, Pulsar, client libraries) are fetched by the tests
# themselves and cached in the usual places (~/.m2, build/peers, ...).
#
# Environment: FUZZ_SECONDS (default 20) per fuzz target; CHURN_SECONDS
# (default 60) for the churn under ASan; JOBS (default nproc).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=${JOBS:-$(nproc)}
fuzz_seconds=${FUZZ_SECONDS:-20}
churn_seconds=${CHURN_SECONDS:-60}

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

step "topic churn on kwire-broker with ASan + UBSan (${churn_seconds}s)"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs"
KWIRE_BROKER=build/asan/examples/broker/kwire-broker CHURN_SECONDS="$churn_seconds" \
  bash tests/interop/topic_churn.sh

step "all checks passed"
