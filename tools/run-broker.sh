#!/usr/bin/env bash
# Builds kwire-broker if needed and runs it on the embedded store, listening on
# localhost:9092 with its data under ./data. Extra arguments are passed to the
# broker (e.g. --num.partitions=3 or a server.properties file).
#
#   ./tools/run-broker.sh
#   ./tools/run-broker.sh --kwire.metrics.listener=127.0.0.1:9404
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
./tools/setup.sh >&2
preset="${KWIRE_PRESET:-default}"
if [[ ! -f "build/$preset/build.ninja" ]]; then
  cmake --preset "$preset" >/dev/null
fi
cmake --build --preset "$preset" --target kwire-broker -j"${KWIRE_JOBS:-2}" >&2
mkdir -p data
exec "build/$preset/examples/broker/kwire-broker" \
  --listeners=PLAINTEXT://localhost:9092 \
  --log.dirs="$root/data" \
  "$@"
