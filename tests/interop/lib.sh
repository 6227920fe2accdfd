# Shared by the interop tests: start a kwire-broker on a free loopback port
# with a temporary data directory, and stop it when the test exits.
#
#   source lib.sh
#   start_broker [extra broker flags...]      # sets BOOTSTRAP, BROKER_PID, DATA_DIR
#   restart_broker                            # same port and data, after stop/kill
#   kill_broker                               # kill -9
#   kill_pulsar                               # kill -9 of the Pulsar standalone, started again
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

kill_broker() {
  kill -9 "$BROKER_PID"
  wait "$BROKER_PID" 2>/dev/null || true
}

# kill -9 of the Pulsar standalone under KWIRE_PULSAR_DIR (the store of a
# run on Pulsar), which is then started again on its data.
kill_pulsar() {
  : "${KWIRE_PULSAR_DIR:?kill_pulsar needs KWIRE_PULSAR_DIR, the directory of the Pulsar standalone}"
  local pid
  pid="$(cat "$KWIRE_PULSAR_DIR/pulsar.pid")"
  kill -9 "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  "$ROOT/tools/pulsar/pulsar-standalone.sh" start "$KWIRE_PULSAR_DIR" >/dev/null
}

# The Pulsar standalone serves again (a test that killed it, ending).
ensure_pulsar_serving() {
  "$ROOT/tools/pulsar/pulsar-standalone.sh" status "$KWIRE_PULSAR_DIR" >/dev/null 2>&1 ||
    "$ROOT/tools/pulsar/pulsar-standalone.sh" start "$KWIRE_PULSAR_DIR" >/dev/null || true
}

# The exit trap of a test that kills Pulsar (trap cleanup_restarting_pulsar
# EXIT): whatever happened, the standalone serves again for the tests after
# it, then cleanup as usual, with the test's exit status.
cleanup_restarting_pulsar() {
  local rc=$?
  set +e
  ensure_pulsar_serving
  (exit $rc)
  cleanup
}

run_java() {
  local cp
  cp="$(kafka_classpath)"
  java -cp "$cp" "$ROOT/tests/interop/java/JavaClients.java" "$BOOTSTRAP" "$@"
}

kafka_cli() { "$ROOT/tools/peers/kafka-cli.sh" "$@"; }
