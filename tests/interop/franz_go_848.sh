#!/usr/bin/env bash
# franz-go with the consumer group protocol (KIP-848) against kwire-broker.
source "$(dirname "$0")/lib.sh"
"$ROOT/tools/peers/go-env.sh" build "$ROOT/tests/interop/go/franz848" "$WORK/franz848" >/dev/null
start_broker --group.consumer.heartbeat.interval.ms=500
"$WORK/franz848" -brokers "$BOOTSTRAP"
