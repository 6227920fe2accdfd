#!/usr/bin/env bash
# A member killed without leaving is expired by its session timeout.
source "$(dirname "$0")/lib.sh"
py="$("$ROOT/tools/peers/python-env.sh")"
start_broker
"$py" "$ROOT/tests/interop/python/session_timeout.py" "$BOOTSTRAP"
grep -q "session expired" "$BROKER_LOG"
