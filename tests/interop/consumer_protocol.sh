#!/usr/bin/env bash
# Apache Kafka's Java KafkaConsumer with the consumer group protocol (KIP-848)
# against kwire-broker (java/ConsumerProtocol.java):
#   consumer_protocol.sh members|regex
# Sessions are short here so that a killed member's session expires quickly.
source "$(dirname "$0")/lib.sh"
start_broker --group.consumer.session.timeout.ms=6000 --group.consumer.heartbeat.interval.ms=500
export CONSUMER_PROTOCOL_SOURCE="$ROOT/tests/interop/java/ConsumerProtocol.java"
java -cp "$(kafka_classpath)" "$CONSUMER_PROTOCOL_SOURCE" "$BOOTSTRAP" "$1"
if [[ "$1" == members ]]; then
  # The CLI describes the group (now empty) and its committed offsets.
  out="$(kafka_cli kafka-consumer-groups --bootstrap-server "$BOOTSTRAP" --describe --group g848)"
  echo "$out"
  rows="$(grep -c '^g848 *kip848 ' <<<"$out" || true)"
  [[ "$rows" == 6 ]] || { echo "expected 6 partitions of kip848 in the description, got $rows" >&2; exit 1; }
  state="$(kafka_cli kafka-consumer-groups --bootstrap-server "$BOOTSTRAP" --describe --group g848 --state)"
  echo "$state"
  grep -q 'Empty' <<<"$state" || { echo "the group is not Empty after its members left" >&2; exit 1; }
fi
