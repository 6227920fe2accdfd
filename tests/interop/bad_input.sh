#!/usr/bin/env bash
# Garbage, oversized frames, unknown APIs, unsupported versions and truncated
# requests; then the /metrics endpoint's account of them.
source "$(dirname "$0")/lib.sh"
metrics_port="$(free_port)"
start_broker --kwire.metrics.listener="127.0.0.1:$metrics_port" --connections.max.idle.ms=5000
wait_for_port "$metrics_port"
python3 "$ROOT/tests/interop/python/bad_input.py" "$BOOTSTRAP" "127.0.0.1:$metrics_port" 5000
grep -q "closing idle connection" "$BROKER_LOG"
kill -0 "$BROKER_PID"
