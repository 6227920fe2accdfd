#!/usr/bin/env bash
# kill -9 (or SIGTERM: crash.sh term) while an acks=all idempotent producer
# streams; after a restart on the same data directory every acknowledged record
# is in the log exactly once and the committed offsets are still there.
source "$(dirname "$0")/lib.sh"
start_broker
acked="$WORK/acked.txt"
total=20000
run_java crash-produce "$acked" "$total" &
producer=$!

# Kill the broker once a good share of the records is acknowledged.
for _ in $(seq 1 1200); do
  n=0
  [[ -f "$acked" ]] && n=$(wc -l <"$acked")
  [[ $n -ge 4000 ]] && break
  kill -0 "$producer" 2>/dev/null || break
  sleep 0.05
done
n=$(wc -l <"$acked")
[[ $n -lt $total ]] || { echo "the producer finished before the crash" >&2; exit 1; }
if [[ "${1:-kill}" == term ]]; then
  # A clean shutdown: in-flight appends finish, the store is flushed and closed.
  kill -TERM "$BROKER_PID"
  rc=0
  wait "$BROKER_PID" || rc=$?
  [[ $rc -eq 0 ]] || { echo "the broker exited with $rc after SIGTERM" >&2; exit 1; }
  grep -q "storage closed" "$BROKER_LOG"
  echo "stopped the broker with $n of $total records acknowledged"
else
  kill -9 "$BROKER_PID"
  wait "$BROKER_PID" 2>/dev/null || true
  echo "killed the broker with $n of $total records acknowledged"
fi
# A torn write at the tail of a ledger: half a batch header and garbage. The
# broker must find it by its CRC and cut it off on restart.
seg="$(ls "$DATA_DIR"/public/default/topics/crash/0/*.log | tail -n 1)"
[[ "${1:-kill}" == term ]] || head -c 45 /dev/urandom >>"$seg"
sleep 1
restart_broker
grep -q "kwire-broker node" "$BROKER_LOG"
if [[ "${1:-kill}" == kill ]]; then
  grep -q "recovery: crash-0: truncated a torn tail of 45 bytes" "$BROKER_LOG" ||
    { echo "the torn tail was not truncated" >&2; exit 1; }
fi

wait "$producer"
echo "producer finished: $(wc -l <"$acked") records acknowledged"
run_java crash-verify "$acked"
