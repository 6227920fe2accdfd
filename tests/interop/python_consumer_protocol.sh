#!/usr/bin/env bash
# librdkafka (confluent-kafka) with the consumer group protocol (KIP-848)
# against kwire-broker (python/consumer_protocol.py).
source "$(dirname "$0")/lib.sh"
py="$("$ROOT/tools/peers/python-env.sh")"
start_broker --group.consumer.heartbeat.interval.ms=500
"$py" "$ROOT/tests/interop/python/consumer_protocol.py" "$BOOTSTRAP"
