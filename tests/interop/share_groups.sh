#!/usr/bin/env bash
# Apache Kafka's Java KafkaShareConsumer (share groups, KIP-932) against
# kwire-broker (java/ShareGroups.java):
#   share_groups.sh exactly-once|redelivery|lock-expiry
# The delivery count limit is 3 here, and the lock-expiry scenario runs with
# short acquisition locks, so that what they wait for comes soon.
source "$(dirname "$0")/lib.sh"
flags=(--group.share.delivery.count.limit=3)
[[ "$1" == lock-expiry ]] && flags+=(--group.share.record.lock.duration.ms=3000)
start_broker "${flags[@]}"
java -cp "$(kafka_classpath)" "$ROOT/tests/interop/java/ShareGroups.java" "$BOOTSTRAP" "$1"
if [[ "$1" == exactly-once ]]; then
  # The CLI lists the group and describes it with its offsets: every record
  # accepted, so each of the three partitions has no lag.
  out="$(kafka_cli kafka-share-groups --bootstrap-server "$BOOTSTRAP" --list)"
  echo "$out"
  grep -qx 'sq' <<<"$out" || { echo "kafka-share-groups --list does not show the group" >&2; exit 1; }
  out="$(kafka_cli kafka-share-groups --bootstrap-server "$BOOTSTRAP" --describe --group sq)"
  echo "$out"
  rows="$(grep -cE '^sq +queue +[0-2] +[0-9]+ +0 *$' <<<"$out" || true)"
  [[ "$rows" == 3 ]] || { echo "expected 3 partitions of queue without lag in the description, got $rows" >&2; exit 1; }
  # An empty group's offsets can be reset and deleted.
  kafka_cli kafka-share-groups --bootstrap-server "$BOOTSTRAP" --reset-offsets --group sq --topic queue \
    --to-earliest --execute
  out="$(kafka_cli kafka-share-groups --bootstrap-server "$BOOTSTRAP" --describe --group sq)"
  echo "$out"
  rows="$(grep -cE '^sq +queue +[0-2] +0 ' <<<"$out" || true)"
  [[ "$rows" == 3 ]] || { echo "expected 3 partitions reset to 0, got $rows" >&2; exit 1; }
  kafka_cli kafka-share-groups --bootstrap-server "$BOOTSTRAP" --delete-offsets --group sq --topic queue
fi
