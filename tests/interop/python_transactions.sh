#!/usr/bin/env bash
# Transactions with librdkafka (confluent-kafka): python/transactions.py.
source "$(dirname "$0")/lib.sh"
py="$("$ROOT/tools/peers/python-env.sh")"
start_broker
"$py" "$ROOT/tests/interop/python/transactions.py" "$BOOTSTRAP"
