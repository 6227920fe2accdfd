#!/usr/bin/env bash
# kafkajs against kwire-broker.
source "$(dirname "$0")/lib.sh"
dir="$("$ROOT/tools/peers/node-env.sh")"
start_broker
NODE_PATH="$dir/node_modules" node "$ROOT/tests/interop/node/clients.js" "$BOOTSTRAP"
