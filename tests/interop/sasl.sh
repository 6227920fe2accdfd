#!/usr/bin/env bash
# SASL/PLAIN on a SASL_PLAINTEXT listener, users given as Kafka's JAAS config.
LISTENER=SASL_PLAINTEXT
source "$(dirname "$0")/lib.sh"
py="$("$ROOT/tools/peers/python-env.sh")"
start_broker --auto.create.topics.enable=true \
  '--listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret" user_bob="bob-secret";'
"$py" "$ROOT/tests/interop/python/clients.py" sasl "$BOOTSTRAP"
grep -q "SASL/PLAIN authentication failed" "$BROKER_LOG"
