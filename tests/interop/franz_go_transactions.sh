#!/usr/bin/env bash
# Transactions with franz-go: go/franz_txn.
source "$(dirname "$0")/lib.sh"
"$ROOT/tools/peers/go-env.sh" build "$ROOT/tests/interop/go/franz_txn" "$WORK/franz_txn" >/dev/null
start_broker
"$WORK/franz_txn" -brokers "$BOOTSTRAP"
