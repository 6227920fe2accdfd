#!/usr/bin/env bash
# franz-go against kwire-broker.
source "$(dirname "$0")/lib.sh"
"$ROOT/tools/peers/go-env.sh" build "$ROOT/tests/interop/go/franz" "$WORK/franz" >/dev/null
start_broker
"$WORK/franz" -brokers "$BOOTSTRAP"
