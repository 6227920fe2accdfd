#!/usr/bin/env bash
# Log compaction (cleanup.policy=compact) seen by librdkafka and kafka-python,
# before and after a restart of the broker.
source "$(dirname "$0")/lib.sh"
py="$("$ROOT/tools/peers/python-env.sh")"
start_broker --log.cleaner.backoff.ms=200
"$py" "$ROOT/tests/interop/python/compaction.py" write "$BOOTSTRAP" "$WORK/state.json"
restart_broker
"$py" "$ROOT/tests/interop/python/compaction.py" check "$BOOTSTRAP" "$WORK/state.json"
