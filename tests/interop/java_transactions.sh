#!/usr/bin/env bash
# Transactions with Apache Kafka's Java client (java/Transactions.java).
#   java_transactions.sh commit-abort|consume-transform-produce[-consumer-protocol]|fence|timeout|crash|crash-pulsar
source "$(dirname "$0")/lib.sh"
txn_java() {
  java -cp "$(kafka_classpath)" "$ROOT/tests/interop/java/Transactions.java" "$BOOTSTRAP" "$@"
}
case "$1" in
  timeout)
    # Expired transactions are looked for often, and a low ceiling on the
    # timeout a producer may ask for.
    start_broker --transaction.abort.timed.out.transaction.cleanup.interval.ms=200 \
      --transaction.max.timeout.ms=900000
    txn_java timeout
    ;;
  crash)
    # kill -9 with a transaction open: after the restart it is still open
    # (its records invisible to read_committed, the last stable offset held),
    # a new producer for the id aborts it, and after one more restart the
    # aborted-transactions index still hides it. The log end offsets never
    # go back across a crash.
    start_broker
    txn_java crash-open "$WORK/ends"
    kill_broker
    restart_broker
    txn_java crash-verify false "$WORK/ends"
    kill_broker
    restart_broker
    txn_java crash-verify true "$WORK/ends"
    ;;
  crash-pulsar)
    # The crash run on Pulsar with the Pulsar standalone (KWIRE_PULSAR_DIR)
    # killed too: first Pulsar alone, under the running broker, with the
    # transaction open; then the broker alone; then both together. Each
    # starts again on its data.
    : "${KWIRE_PULSAR_DIR:?crash-pulsar kills the Pulsar standalone in KWIRE_PULSAR_DIR}"
    trap cleanup_restarting_pulsar EXIT
    start_broker
    txn_java crash-open "$WORK/ends"
    kill_pulsar
    txn_java crash-verify false "$WORK/ends"
    kill_broker
    restart_broker
    txn_java crash-verify true "$WORK/ends"
    kill_broker
    kill_pulsar
    restart_broker
    txn_java crash-verify true "$WORK/ends"
    ;;
  *)
    start_broker
    txn_java "$1"
    ;;
esac
