#!/usr/bin/env bash
# Kafka Connect's distributed worker against the broker: its compacted
# internal topics (configs, offsets, status), its group protocol ("connect"),
# a source connector (file -> topic) and a sink connector (topic -> file)
# moving numbered lines, through a graceful restart of the worker, a second
# worker joining the group and a kill -9 of the first one.
#   connect.sh [exactly-once]
# exactly-once: the worker runs with exactly.once.source.support=enabled
# (source records and their offsets in one transaction); the worker is
# killed with SIGKILL while lines are being read, restarted, and a
# read_committed consumer must see every line exactly once.
# The connectors (java/connect) are the test's own: line-oriented file
# source and sink, compiled against the worker's classpath.
source "$(dirname "$0")/lib.sh"
MODE="${1:-}"
CONNECT_CP="$("$ROOT/tools/peers/kafka-classpath.sh" kafka-connect)"
GROUP=kwire-connect
TOPIC=lines
IN="$WORK/in.txt"
OUT="$WORK/out.txt"
EXPECTED="$WORK/expected.txt"
WORKER_PIDS=()
REST_PORTS=()
: >"$IN"

stop_all() {
  local rc=$?
  set +e
  local pid
  for pid in "${WORKER_PIDS[@]}"; do
    [[ "$pid" == - ]] && continue
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [[ $rc -ne 0 ]]; then
    local log
    for log in "$WORK"/worker-*.log; do
      [[ -f "$log" ]] || continue
      echo "---- $(basename "$log") (errors and last 40 lines) ----" >&2
      grep -E ' (ERROR|WARN) ' "$log" | tail -n 20 >&2
      tail -n 40 "$log" >&2
    done
  fi
  (exit $rc)
  cleanup
}
trap stop_all EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The connectors, with the manifests through which Connect finds plugins on
# its classpath.
PLUGIN="$WORK/plugin"
javac -d "$PLUGIN" -cp "$CONNECT_CP" "$ROOT"/tests/interop/java/connect/kwire/connect/*.java
mkdir -p "$PLUGIN/META-INF/services"
echo kwire.connect.LineFileSource >"$PLUGIN/META-INF/services/org.apache.kafka.connect.source.SourceConnector"
echo kwire.connect.LineFileSink >"$PLUGIN/META-INF/services/org.apache.kafka.connect.sink.SinkConnector"
cat >"$WORK/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = STDOUT
logger.reflections.name = org.reflections
logger.reflections.level = error
EOF

# Worker number $1's configuration: all workers share the group and topics.
write_worker_config() {
  local n="$1" port="$2"
  cat >"$WORK/worker-$n.properties" <<EOF
bootstrap.servers=$BOOTSTRAP
group.id=$GROUP
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.storage.StringConverter
config.storage.topic=$GROUP-configs
offset.storage.topic=$GROUP-offsets
status.storage.topic=$GROUP-status
config.storage.replication.factor=1
offset.storage.replication.factor=1
# Topic configs for the offsets topic the worker creates (KIP-605): a new
# ledger for each offset commit, so that earlier commits are compacted away
# before the worker restarts and reads the topic again.
offset.storage.segment.ms=100
offset.storage.min.cleanable.dirty.ratio=0.01
status.storage.replication.factor=1
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:$port
# Every plugin (Connect's own and the test's) has its ServiceLoader manifest.
plugin.discovery=service_load
# The work of a worker that left is handed out again after this delay
# (five minutes by default).
scheduled.rebalance.max.delay.ms=3000
EOF
  if [[ "$MODE" == exactly-once ]]; then
    # A worker restarted after a kill reads the offsets topic read_committed
    # up to its high watermark: if the killed task's transaction had written
    # there, that read waits until the transaction times out and is aborted
    # (Kafka's behaviour as well). Its tasks' producers time out after 10 s
    # instead of 60 s.
    cat >>"$WORK/worker-$n.properties" <<EOF
exactly.once.source.support=enabled
producer.transaction.timeout.ms=10000
EOF
  fi
}

# start_worker N: starts (or restarts) worker N and waits for its REST API.
start_worker() {
  local n="$1"
  if [[ -z "${REST_PORTS[$n]:-}" ]]; then
    REST_PORTS[$n]="$(free_port)"
    write_worker_config "$n" "${REST_PORTS[$n]}"
  fi
  # java itself in the background (not a function's subshell): its pid is
  # what the signals must hit.
  java -Xmx384m -Dlog4j2.configurationFile="$WORK/log4j2.properties" \
    -cp "$CONNECT_CP:$PLUGIN" org.apache.kafka.connect.cli.ConnectDistributed \
    "$WORK/worker-$n.properties" >>"$WORK/worker-$n.log" 2>&1 &
  WORKER_PIDS[$n]=$!
  local deadline=$((SECONDS + 120))
  until curl -sf "http://127.0.0.1:${REST_PORTS[$n]}/" >/dev/null; do
    kill -0 "${WORKER_PIDS[$n]}" 2>/dev/null || fail "worker $n exited"
    ((SECONDS < deadline)) || fail "worker $n's REST API did not answer"
    sleep 0.5
  done
}

# stop_worker N SIGNAL
stop_worker() {
  local n="$1" sig="$2"
  kill "-$sig" "${WORKER_PIDS[$n]}"
  wait "${WORKER_PIDS[$n]}" 2>/dev/null || true
  WORKER_PIDS[$n]=-
}

rest() { curl -s "http://127.0.0.1:${REST_PORTS[$1]}$2"; }

# create_connector WORKER NAME CONFIG_JSON: retried while the worker is
# still joining the group (it answers 409 or 500 then).
create_connector() {
  local n="$1" name="$2" config="$3" code deadline=$((SECONDS + 90))
  while :; do
    code="$(curl -s -o "$WORK/create.out" -w '%{http_code}' -X POST \
      -H 'Content-Type: application/json' \
      -d "{\"name\": \"$name\", \"config\": $config}" \
      "http://127.0.0.1:${REST_PORTS[$n]}/connectors")"
    [[ "$code" == 201 ]] && return 0
    ((SECONDS < deadline)) || fail "creating $name: HTTP $code $(cat "$WORK/create.out")"
    sleep 1
  done
}

# Prints "STATE WORKER" for the connector and then each task of connector $2,
# as worker $1 reports them.
unit_states() {
  rest "$1" "/connectors/$2/status" | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(s["connector"]["state"], s["connector"]["worker_id"])
for t in s.get("tasks", []):
    print(t["state"], t["worker_id"])'
}

# wait_running WORKER CONNECTOR...: the connectors and one task each RUNNING.
wait_running() {
  local n="$1" c states deadline=$((SECONDS + 120))
  shift
  for c in "$@"; do
    while :; do
      states="$(unit_states "$n" "$c" 2>/dev/null || true)"
      [[ "$(awk '$1 == "RUNNING"' <<<"$states" | wc -l)" == 2 &&
        "$(wc -l <<<"$states")" == 2 ]] && break
      ((SECONDS < deadline)) || fail "$c not running with its task: $states"
      sleep 1
    done
    echo "$c: $(tr '\n' ' ' <<<"$states")"
  done
}

# append FROM TO: lines FROM..TO-1 to the source file and to the expectation.
append() {
  local i
  for ((i = $1; i < $2; i++)); do echo "line-$i"; done | tee -a "$EXPECTED" >>"$IN"
}

# wait_sink_exact: the sink file holds exactly the expected lines, in order.
wait_sink_exact() {
  local want have deadline=$((SECONDS + 120))
  want="$(wc -l <"$EXPECTED")"
  while :; do
    have="$( [[ -f "$OUT" ]] && wc -l <"$OUT" || echo 0)"
    ((have >= want)) && break
    ((SECONDS < deadline)) || fail "the sink wrote $have of $want lines"
    sleep 0.5
  done
  cmp -s "$EXPECTED" "$OUT" || {
    diff "$EXPECTED" "$OUT" | head -n 20 >&2
    fail "the sink file is not the $want lines in order"
  }
  echo "sink file: the $want lines, in order"
}

# Records written to the offsets topic (the sum of its partitions' ends).
offsets_written() {
  kafka_cli kafka-get-offsets --bootstrap-server "$BOOTSTRAP" --topic "$GROUP-offsets" |
    awk -F: '{n += $3} END {print n + 0}'
}

source_config() {
  local extra=""
  [[ "$MODE" == exactly-once ]] && extra=', "exactly.once.support": "required"'
  echo "{\"connector.class\": \"kwire.connect.LineFileSource\", \"tasks.max\": \"1\",
    \"file\": \"$IN\", \"topic\": \"$TOPIC\"$extra}"
}
sink_config() {
  echo "{\"connector.class\": \"kwire.connect.LineFileSink\", \"tasks.max\": \"1\",
    \"topics\": \"$TOPIC\", \"file\": \"$OUT\"}"
}

broker_flags=(--log.cleaner.backoff.ms=200)
# Transactions past their timeout are looked for every second (10 s by default).
[[ "$MODE" == exactly-once ]] &&
  broker_flags+=(--transaction.abort.timed.out.transaction.cleanup.interval.ms=1000)
start_broker "${broker_flags[@]}"
# One partition: the lines keep their order end to end.
kafka_cli kafka-topics --bootstrap-server "$BOOTSTRAP" --create --topic "$TOPIC" --partitions 1
if [[ "$MODE" == exactly-once ]]; then
  start_worker 1
  create_connector 1 lines-source "$(source_config)"
  wait_running 1 lines-source
  # Lines keep coming while the worker is killed and restarted.
  (for ((i = 0; i < 2000; i += 50)); do append "$i" $((i + 50)); sleep 0.2; done) &
  writer=$!
  # Killed once some of them are in the topic.
  deadline=$((SECONDS + 60))
  until (($(kafka_cli kafka-get-offsets --bootstrap-server "$BOOTSTRAP" --topic "$TOPIC" |
    awk -F: '{print $3 + 0}') >= 300)); do
    ((SECONDS < deadline)) || fail "the source task did not get going"
    sleep 0.5
  done
  stop_worker 1 KILL
  start_worker 1
  wait "$writer"
  # Without transactions, what the killed task sent after its last offset
  # commit would be read and sent again. read_committed hides the aborted
  # transaction the kill left open.
  deadline=$((SECONDS + 120))
  while :; do
    kafka_cli kafka-console-consumer --bootstrap-server "$BOOTSTRAP" --topic "$TOPIC" \
      --from-beginning --isolation-level read_committed --timeout-ms 5000 >"$WORK/topic.txt" 2>/dev/null || true
    grep -qx line-1999 "$WORK/topic.txt" && break
    ((SECONDS < deadline)) || fail "read_committed: $(wc -l <"$WORK/topic.txt") lines, not the last one"
  done
  cmp -s "$EXPECTED" "$WORK/topic.txt" || {
    diff "$EXPECTED" "$WORK/topic.txt" | head -n 20 >&2
    fail "read_committed does not see each line exactly once, in order"
  }
  echo "read_committed: the 2000 lines, each once, in order"
  kafka_cli kafka-transactions --bootstrap-server "$BOOTSTRAP" list | tee "$WORK/txns.txt"
  grep -q "^$GROUP-lines-source-0 " "$WORK/txns.txt" || fail "no transactional id for the source task"
  exit 0
fi

start_worker 1
create_connector 1 lines-source "$(source_config)"
create_connector 1 lines-sink "$(sink_config)"
# Three parts, each committed by the source in its own record of the offsets
# topic (the same key: the file).
for part in 0 1 2; do
  committed="$(offsets_written)"
  append $((part * 70)) $((part * 70 + 70))
  wait_sink_exact
  deadline=$((SECONDS + 60))
  until (($(offsets_written) > committed)); do
    ((SECONDS < deadline)) || fail "no offset commit for part $part"
    sleep 0.5
  done
done
wait_running 1 lines-source lines-sink
# The broker compacts the offsets topic: fewer records remain than were
# written (the earlier positions of the file are gone).
deadline=$((SECONDS + 60))
while :; do
  written="$(offsets_written)"
  kept="$(kafka_cli kafka-console-consumer --bootstrap-server "$BOOTSTRAP" \
    --topic "$GROUP-offsets" --from-beginning --timeout-ms 3000 2>/dev/null | wc -l)"
  ((kept < written)) && break
  ((SECONDS < deadline)) || fail "the offsets topic is not compacted ($kept of $written records)"
done
echo "$GROUP-offsets compacted: $kept of $written records kept"
# The workers' group, of Connect's own protocol type.
groups="$(kafka_cli kafka-groups --bootstrap-server "$BOOTSTRAP" --list)"
grep -Eq "^$GROUP +Classic +connect *$" <<<"$groups" ||
  { echo "$groups" >&2; fail "no classic group $GROUP of protocol type connect"; }
echo "group $GROUP: classic, protocol type connect"

# The internal topics are compacted: Connect checked that itself
# (DescribeConfigs) before using them, and so does kafka-configs.
for t in configs offsets status; do
  described="$(kafka_cli kafka-configs --bootstrap-server "$BOOTSTRAP" --describe \
    --entity-type topics --entity-name "$GROUP-$t")"
  grep -q 'cleanup.policy=compact' <<<"$described" ||
    { echo "$described" >&2; fail "$GROUP-$t is not compacted"; }
  echo "$GROUP-$t: cleanup.policy=compact"
done

# A graceful restart: the connectors come back from the configs topic and
# resume from the offsets committed in the offsets topic (source: positions
# in the file; sink: the group's committed offsets): no line lost or repeated.
stop_worker 1 TERM
append 210 300
start_worker 1
wait_sink_exact
wait_running 1 lines-source lines-sink

# A second worker joins the group: the connectors and tasks are spread over
# both workers.
start_worker 2
deadline=$((SECONDS + 120))
while :; do
  owners="$( (unit_states 1 lines-source; unit_states 1 lines-sink) 2>/dev/null |
    awk '$1 == "RUNNING" {print $2}' | sort -u | tr '\n' ' ' || true)"
  [[ "$owners" == *":${REST_PORTS[1]} "* && "$owners" == *":${REST_PORTS[2]} "* ]] && break
  ((SECONDS < deadline)) || fail "the work is not spread over both workers: $owners"
  sleep 1
done
echo "work spread over: $owners"
append 300 400
wait_sink_exact

# kill -9 of the first worker: the second takes its connectors and tasks over
# once the broker has expired its membership. Lines are added meanwhile.
stop_worker 1 KILL
append 400 500
deadline=$((SECONDS + 120))
while :; do
  owners="$( (unit_states 2 lines-source; unit_states 2 lines-sink) 2>/dev/null |
    awk '$1 == "RUNNING" {print $2}' | sort | uniq -c | awk '{print $1, $2}' || true)"
  [[ "$owners" == "4 "*":${REST_PORTS[2]}" ]] && break
  ((SECONDS < deadline)) || fail "the survivor did not take all the work over: $owners"
  sleep 1
done
echo "survivor runs: $owners"
append 500 600
# Sinks are at least once: what the killed worker wrote after its last
# offset commit is written again by the survivor, and so may be what the
# source read after its last offset commit. So the file may go back to an
# earlier line and go on from there, but never skip a line, and it ends
# with the last one.
deadline=$((SECONDS + 120))
until tail -n 1 "$OUT" | grep -qx line-599; do
  ((SECONDS < deadline)) || fail "the sink did not reach the last line: $(tail -n 1 "$OUT")"
  sleep 0.5
done
python3 - "$EXPECTED" "$OUT" <<'EOF'
import sys
expected = open(sys.argv[1]).read().split("\n")[:-1]
written = open(sys.argv[2]).read().split("\n")[:-1]
index = {line: i for i, line in enumerate(expected)}
unknown = [line for line in written if line not in index]
if unknown:
    sys.exit(f"FAIL: lines never written to the source: {unknown[:5]}")
positions = [index[line] for line in written]
if positions[0] != 0:
    sys.exit(f"FAIL: the sink file starts with {written[0]}")
replays = 0
for a, b in zip(positions, positions[1:]):
    if b > a + 1:
        sys.exit(f"FAIL: the sink file skips from {expected[a]} to {expected[b]}")
    if b <= a:
        replays += 1
if replays > 2:
    sys.exit(f"FAIL: {replays} replays in the sink file (one from each connector at most)")
if set(positions) != set(range(len(expected))):
    sys.exit("FAIL: lines missing from the sink file")
print(f"sink file after the kill: all {len(expected)} lines, in order, "
      f"{len(written) - len(expected)} written again in {replays} replay(s)")
EOF
