#!/usr/bin/env bash
# A static member of the consumer group protocol restarted as a classic
# static member takes its place, and the group goes back to a classic group
# without a rebalance, as Kafka 4 does (java/StaticDowngrade.java).
source "$(dirname "$0")/lib.sh"
start_broker --group.initial.rebalance.delay.ms=0 --group.consumer.heartbeat.interval.ms=500
java -cp "$(kafka_classpath)" "$ROOT/tests/interop/java/StaticDowngrade.java" "$BOOTSTRAP"
grep -q 'downgraded to a classic group' "$BROKER_LOG" || { echo "the broker log shows no downgrade" >&2; exit 1; }
if grep -q 'rebalancing (downgraded from the consumer protocol)' "$BROKER_LOG"; then
  echo "the downgrade rebalanced the group" >&2
  exit 1
fi
