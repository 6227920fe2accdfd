#!/usr/bin/env bash
# A classic group upgraded online to the consumer group protocol (KIP-848)
# and downgraded again by restarting its Java members one by one
# (java/ProtocolMigration.java); the broker is restarted while the group is
# mixed, so the group's record must bring its classic members back.
source "$(dirname "$0")/lib.sh"
start_broker --group.initial.rebalance.delay.ms=0 --group.consumer.session.timeout.ms=6000 \
  --group.consumer.heartbeat.interval.ms=500
export MIGRATION_RESTART_DIR="$WORK/restart"
mkdir -p "$MIGRATION_RESTART_DIR"
java -cp "$(kafka_classpath)" "$ROOT/tests/interop/java/ProtocolMigration.java" "$BOOTSTRAP" &
java_pid=$!
while kill -0 "$java_pid" 2>/dev/null; do
  if [[ -e "$MIGRATION_RESTART_DIR/restart" && ! -e "$MIGRATION_RESTART_DIR/restarted" ]]; then
    kill -TERM "$BROKER_PID"
    wait "$BROKER_PID" || true
    restart_broker
    touch "$MIGRATION_RESTART_DIR/restarted"
  fi
  sleep 0.2
done
wait "$java_pid"
grep -q 'upgraded from a classic group' "$BROKER_LOG" || { echo "the broker log shows no upgrade" >&2; exit 1; }
grep -q 'downgraded to a classic group' "$BROKER_LOG" || { echo "the broker log shows no downgrade" >&2; exit 1; }
