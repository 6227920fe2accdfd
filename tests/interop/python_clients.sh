#!/usr/bin/env bash
# librdkafka (confluent-kafka) or kafka-python against kwire-broker.
#   python_clients.sh confluent|kafka-python
source "$(dirname "$0")/lib.sh"
py="$("$ROOT/tools/peers/python-env.sh")"
start_broker
"$py" "$ROOT/tests/interop/python/clients.py" "$1" "$BOOTSTRAP"
