#!/usr/bin/env bash
# Kafka Streams exactly_once_v2 (java/StreamsEos.java): a word count with a
# state store keeps exact counts while the application and then the broker
# are killed with SIGKILL and restarted mid-stream.
#   streams_eos.sh [kill-pulsar]
# kill-pulsar (a run on Pulsar): the Pulsar standalone in KWIRE_PULSAR_DIR is
# killed with SIGKILL as well, right after the broker's restart, under the
# running broker and application, and started again on its data; the last
# part of the input goes through it.
source "$(dirname "$0")/lib.sh"
MODE="${1:-}"
STREAMS_CP="$("$ROOT/tools/peers/kafka-classpath.sh" kafka-streams)"
eos() { java -cp "$STREAMS_CP" "$ROOT/tests/interop/java/StreamsEos.java" "$BOOTSTRAP" "$@"; }
STATE_DIR="$WORK/streams-state"
APP_LOG="$WORK/app.log"
APP_PID=""
start_app() {
  # java itself in the background (not a function's subshell): its pid is
  # what kill -9 must hit.
  java -cp "$STREAMS_CP" "$ROOT/tests/interop/java/StreamsEos.java" "$BOOTSTRAP" app "$STATE_DIR" >>"$APP_LOG" 2>&1 &
  APP_PID=$!
}
stop_all() {
  local rc=$?
  set +e
  if [[ -n "$APP_PID" ]]; then
    kill -9 "$APP_PID" 2>/dev/null
    wait "$APP_PID" 2>/dev/null
  fi
  if [[ $rc -ne 0 ]]; then
    echo "---- application log (last 60 lines) ----" >&2
    tail -n 60 "$APP_LOG" >&2
  fi
  if [[ "$MODE" == kill-pulsar ]]; then ensure_pulsar_serving; fi
  # lib.sh's cleanup stops the broker and reads the exit status from $?.
  (exit $rc)
  cleanup
}
trap stop_all EXIT

start_broker
eos setup
eos produce 0 400
start_app
# Part of the first lines counted: the application dies without warning.
eos wait-consumed 100
kill -9 "$APP_PID"
wait "$APP_PID" 2>/dev/null || true
eos produce 400 800
start_app
# The broker dies under the running application, and comes back.
eos wait-consumed 500
kill_broker
restart_broker
if [[ "$MODE" == kill-pulsar ]]; then
  # Pulsar dies under the broker, just back, and the application, which
  # resumes its transactions there; then it comes back.
  kill_pulsar
fi
eos produce 800 1200
eos wait-consumed 1200
# Still running (it would have died on a fatal error): stop it cleanly.
kill -TERM "$APP_PID"
wait "$APP_PID" 2>/dev/null || true
APP_PID=""
eos verify 1200

# Kafka 4.4's producer runs Transactions V2 (KIP-890) where the broker
# finalizes transaction.version 2: every transaction then ends with a new
# producer epoch. Under V1 the epoch changes only with InitProducerId (three
# application starts here), so many commits show in the epoch.
txn() { kafka_cli kafka-transactions --bootstrap-server "$BOOTSTRAP" "$@"; }
ids="$(txn list | awk 'NR > 1 && $1 ~ /^kwire-wordcount-/ {print $1}')"
[[ -n "$ids" ]] || { echo "FAIL: the application's transactional ids are not listed" >&2; exit 1; }
max_epoch=-1
for id in $ids; do
  epoch="$(txn describe --transactional-id "$id" |
    awk 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == "ProducerEpoch") c = i} NR == 2 {print $c}')"
  echo "transactional id $id: producer epoch $epoch"
  (( epoch > max_epoch )) && max_epoch=$epoch
done
(( max_epoch >= 8 )) || { echo "FAIL: producer epochs stay low ($max_epoch): not Transactions V2" >&2; exit 1; }
echo "Transactions V2: producer epoch reached $max_epoch"
