#!/usr/bin/env bash
# Consume-transform-produce under crashes (go/txn_checker): three franz-go
# transactional workers move 3,000 numbered records from chk-in to chk-out,
# committing their input offsets in each transaction, while the broker is
# killed with kill -9 and restarted four times. The checker then finds every
# input record in the output exactly once, no record of an aborted
# transaction read with read_committed, nothing read during the run that is
# not there at the end, and no offset (read, committed, log end) gone back.
# With KWIRE_PULSAR_DIR and the broker on Pulsar (KWIRE_BROKER_EXTRA, the
# run on Pulsar) the Pulsar standalone there is killed with kill -9 as well,
# once, between the second and third kill of the broker, and started again
# on its data.
source "$(dirname "$0")/lib.sh"
KILL_PULSAR=""
# A KWIRE_PULSAR_DIR left in the environment of a run on the embedded store
# kills nothing.
if [[ -n "${KWIRE_PULSAR_DIR:-}" && " ${KWIRE_BROKER_EXTRA:-} " == *" --kwire.storage=pulsar "* ]]; then
  KILL_PULSAR=1
fi
KILLS=4
CHECKER_LOG="$WORK/checker.log"
CHECKER_PID=""
"$ROOT/tools/peers/go-env.sh" build "$ROOT/tests/interop/go/txn_checker" "$WORK/txn_checker" >/dev/null

stop_checker() {
  local rc=$?
  set +e
  if [[ -n "$CHECKER_PID" ]]; then
    kill -9 "$CHECKER_PID" 2>/dev/null
    wait "$CHECKER_PID" 2>/dev/null
  fi
  if [[ $rc -ne 0 ]]; then
    echo "---- checker log (last 60 lines) ----" >&2
    tail -n 60 "$CHECKER_LOG" >&2
  fi
  if [[ -n "$KILL_PULSAR" ]]; then ensure_pulsar_serving; fi
  # lib.sh's cleanup stops the broker and reads the exit status from $?.
  (exit $rc)
  cleanup
}
trap stop_checker EXIT

# The checker must still be running at each kill: one that failed fails the
# test with its own message, one that passed had nothing killed under it.
still_running() {
  kill -0 "$CHECKER_PID" 2>/dev/null && return 0
  local rc=0
  wait "$CHECKER_PID" || rc=$?
  CHECKER_PID=""
  if [[ $rc -ne 0 ]]; then exit $rc; fi
  cat "$CHECKER_LOG"
  echo "FAIL: the checker ended before $1: too fast to test anything" >&2
  exit 1
}

start_broker
# The program itself in the background: its pid is what is waited for.
duration=150s
[[ -n "$KILL_PULSAR" ]] && duration=400s
"$WORK/txn_checker" -brokers "$BOOTSTRAP" -duration "$duration" >"$CHECKER_LOG" 2>&1 &
CHECKER_PID=$!

for ((i = 1; i <= KILLS; i++)); do
  sleep $((3 + RANDOM % 3))
  still_running "kill $i of the broker"
  echo "kill -9 of the broker ($i of $KILLS)"
  kill_broker
  sleep 1
  restart_broker
  if [[ -n "$KILL_PULSAR" && $i -eq 2 ]]; then
    sleep 3
    still_running "Pulsar was killed"
    echo "kill -9 of the Pulsar standalone"
    kill_pulsar
  fi
done

# On failure the exit trap shows the end of the checker's log.
rc=0
wait "$CHECKER_PID" || rc=$?
CHECKER_PID=""
if [[ $rc -ne 0 ]]; then exit $rc; fi
cat "$CHECKER_LOG"
