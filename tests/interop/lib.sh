# Shared by the interop tests: start a kwire-broker on a free loopback port
# with a temporary data directory, and stop it when the test exits.
#
#   source lib.sh
#   start_broker [extra broker flags...]      # sets BOOTSTRAP, BROKER_PID, DATA_DIR
#   restart_broker                            # same port and data, after stop/kill
#
# KWIRE_BROKER_EXTRA (whitespace-separated flags) is added to every broker
# command line: the same tests then run on another storage (tests/pulsar).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
: "${KWIRE_BROKER:?KWIRE_BROKER must name the kwire-broker binary}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/kwire-interop.XXXXXX")"
DATA_DIR="$WORK/data"
BROKER_LOG="$WORK/broker.log"
BROKER_PID=""
BROKER_ARGS=()
PORT=""
LISTENER="${LISTENER:-PLAINTEXT}"

cleanup() {
  local rc=$?
  # Clients left running in the background (a failed step) go first.
  local job
  for job in $(jobs -p); do
    [[ "$job" == "$BROKER_PID" ]] || kill "$job" 2>/dev/null || true
  done
  if [[ -n "$BROKER_PID" ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
    kill -TERM "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
  fi
  if [[ $rc -ne 0 ]]; then
    echo "---- broker log (last 60 lines) ----" >&2
    tail -n 60 "$BROKER_LOG" >&2 || true
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT

source "$ROOT/tests/support/net.sh"

wait_for_port() {
  wait_listening "$1" "$BROKER_PID" && return 0
  echo "broker did not open port $1 (or exited)" >&2
  return 1
}

launch_broker() {
  "$KWIRE_BROKER" \
    --listeners="$LISTENER://127.0.0.1:$PORT" \
    --log.dirs="$DATA_DIR" \
    --group.initial.rebalance.delay.ms=200 \
    ${KWIRE_BROKER_EXTRA:-} \
    "${BROKER_ARGS[@]}" >>"$BROKER_LOG" 2>&1 &
  BROKER_PID=$!
  wait_for_port "$PORT"
}

start_broker() {
  PORT="$(free_port)"
  BROKER_ARGS=("$@")
  launch_broker
  BOOTSTRAP="127.0.0.1:$PORT"
  export BOOTSTRAP
}

restart_broker() {
  launch_broker
}

kafka_classpath() { "$ROOT/tools/peers/kafka-classpath.sh"; }

run_java() {
  local cp
  cp="$(kafka_classpath)"
  java -cp "$cp" "$ROOT/tests/interop/java/JavaClients.java" "$BOOTSTRAP" "$@"
}

kafka_cli() { "$ROOT/tools/peers/kafka-cli.sh" "$@"; }
