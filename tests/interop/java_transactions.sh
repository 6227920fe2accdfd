#!/usr/bin/env bash
# Transactions with Apache Kafka's Java client (java/Transactions.java).
#   java_transactions.sh commit-abort|consume-transform-produce|fence|timeout|crash
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
    # aborted-transactions index still hides it.
    start_broker
    txn_java crash-open
    kill -9 "$BROKER_PID"
    wait "$BROKER_PID" 2>/dev/null || true
    restart_broker
    txn_java crash-verify false
    kill -9 "$BROKER_PID"
    wait "$BROKER_PID" 2>/dev/null || true
    restart_broker
    txn_java crash-verify true
    ;;
  *)
    start_broker
    txn_java "$1"
    ;;
esac
