#!/usr/bin/env bash
# Topic churn (python/topic_churn.py): the same topics created and deleted
# over and over while others produce, fetch, commit and ask for offsets. The
# broker must survive it with its log free of sanitizer reports and of
# connections it closed on a client, then stop cleanly.
#
# CHURN_SECONDS (default 30) bounds the churn. Run it against a broker built
# with the asan preset to catch memory errors the release build may survive.
source "$(dirname "$0")/lib.sh"
py="$("$ROOT/tools/peers/python-env.sh")"
metrics_port="$(free_port)"
# More network threads than cores, so that requests for one topic run on
# several threads at once; small ledgers so that retention and DeleteRecords
# drop ledgers while fetches read them.
start_broker --num.network.threads=4 --log.segment.bytes=65536 --log.retention.bytes=262144 \
  --kwire.metrics.listener="127.0.0.1:$metrics_port"

churn=0
"$py" "$ROOT/tests/interop/python/topic_churn.py" "$BOOTSTRAP" "${CHURN_SECONDS:-30}" \
  "http://127.0.0.1:$metrics_port/metrics" || churn=$?

# A sanitizer report first, whatever else failed: its head names the bug
# (lines cut short: Asio's frames run to thousands of characters).
if grep -qE "Sanitizer|runtime error:" "$BROKER_LOG"; then
  sed -n '/runtime error:\|==ERROR\|WARNING: .*Sanitizer/,$p' "$BROKER_LOG" | grep -E "^ *#|ERROR|WARNING|SUMMARY|runtime error|thread T|freed by|allocated by|previously" |
    head -n 120 | cut -c1-240 >&2
  echo "the broker's sanitizer reported the error above" >&2
  exit 1
fi
if [[ $churn -ne 0 ]]; then
  grep -E "Z (WARN|ERROR) " "$BROKER_LOG" | head -n 20 | cut -c1-240 >&2 || true
  exit "$churn"
fi

kill -0 "$BROKER_PID" 2>/dev/null || { echo "the broker died" >&2; exit 1; }
kill -TERM "$BROKER_PID"
rc=0
wait "$BROKER_PID" || rc=$?
BROKER_PID=""
[[ $rc -eq 0 ]] || { echo "the broker exited with $rc after SIGTERM" >&2; exit 1; }

# Reports written at exit (leaks), connections the broker closed on a client
# (a request it could not decode, a handler that threw) and errors it logged:
# each is a failure.
if grep -nE "Sanitizer|runtime error:|closing connection from|Z ERROR " "$BROKER_LOG" | cut -c1-240 >&2; then
  echo "the broker log above shows a failure" >&2
  exit 1
fi
grep -q "storage closed" "$BROKER_LOG"
echo "topic churn: the broker survived, stopped cleanly and logged no failure"
