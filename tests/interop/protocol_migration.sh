#!/usr/bin/env bash
# A classic group upgraded online to the consumer group protocol (KIP-848)
# and downgraded again by restarting its Java members one by one
# (java/ProtocolMigration.java), then described by the CLI.
source "$(dirname "$0")/lib.sh"
start_broker --group.initial.rebalance.delay.ms=0 --group.consumer.session.timeout.ms=6000 \
  --group.consumer.heartbeat.interval.ms=500
java -cp "$(kafka_classpath)" "$ROOT/tests/interop/java/ProtocolMigration.java" "$BOOTSTRAP"
grep -q 'upgraded from a classic group' "$BROKER_LOG" || { echo "the broker log shows no upgrade" >&2; exit 1; }
grep -q 'downgraded to a classic group' "$BROKER_LOG" || { echo "the broker log shows no downgrade" >&2; exit 1; }
