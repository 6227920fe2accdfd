#!/usr/bin/env bash
# Apache Kafka's Java client against kwire-broker: one scenario per run.
#   java_clients.sh admin|codecs|timestamps|group|static|retention|sessions
source "$(dirname "$0")/lib.sh"
if [[ "$1" == sessions ]]; then
  # Its own program (java/FetchSessions.java): it reads the broker's fetch
  # session metrics.
  METRICS_PORT="$(free_port)"
  start_broker --kwire.metrics.listener="127.0.0.1:$METRICS_PORT"
  java -cp "$(kafka_classpath)" "$ROOT/tests/interop/java/FetchSessions.java" "$BOOTSTRAP" \
    "http://127.0.0.1:$METRICS_PORT/metrics"
else
  start_broker
  run_java "$1"
fi
