#!/usr/bin/env bash
# kwire-broker on Pulsar storage, end to end with Kafka's own Java clients and
# Pulsar's (and kwire_pulsar's) native clients, against the test standalone:
#   1. Kafka producer → native Pulsar consumers read key, value, event time
#      and headers as properties (entry format pulsar)
#   2. native Pulsar producer → Kafka consumer sees continuous offsets, and
#      Kafka appends continue them
#   3. entry format kafka round-trips through Kafka clients
#   4. a consumer group's commit moves its Pulsar subscription (backlog);
#      deleting the group removes it
#   5. an acks=all idempotent stream across restarts of kwire-broker and of
#      Pulsar: every record exactly once, offsets continuous except where
#      Pulsar's own index skips numbers (a write it counted, then lost)
#   7. a Kafka consumer long-polling at the end of a partition gets a native
#      Pulsar producer's record as Pulsar delivers it, not when its wait ends
#   8. compressed entries both ways: a native producer's LZ4, ZLIB, ZSTD and
#      SNAPPY batches read by a Kafka consumer, fetched as batches of the same
#      codec; a Kafka producer's lz4, gzip, zstd and snappy batches stored
#      compressed, fetched compressed and read by Pulsar's client
#   6. two gateways: Metadata and FindCoordinator split partitions and groups
#      between them; one killed mid-stream, clients carry on through the
#      other: every record once, offsets continuous, the group resumes from
#      what it committed through the dead one
# usage: broker_e2e.sh KWIRE_BROKER KWIRE_PULSAR_CLI [STEPS]
#   STEPS: which of 1-8 to run, e.g. "12346" (default: all). Steps 2-6 build
#   on step 1's gateway; step 4 reads what step 1 wrote.
# KWIRE_PROBE (tests/interop/probe) shows fetched batches as they come over
# the wire (codec, size) in steps 3 and 8.
set -euo pipefail
steps="${3:-12345678}"
want() { [[ "$steps" == *"$1"* ]]; }
broker_bin="$1"
cli="$2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/tests/support/net.sh"
url="${KWIRE_PULSAR_URL:-pulsar://127.0.0.1:6650}"
web="${KWIRE_PULSAR_WEB_URL:-http://127.0.0.1:8080}"
pulsar_dir="${KWIRE_PULSAR_DIR:-}"
kafka_cli="$root/tools/peers/kafka-cli.sh"
pulsar_cp="$("$root/tools/pulsar/pulsar-standalone.sh" classpath)"
work="$(mktemp -d)"
run_id="$(date +%s)$RANDOM"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [[ -n "${E2E_KEEP_WORK:-}" ]] && echo "work dir kept: $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$work"/broker-*.log; do echo "== $f" >&2; tail -20 "$f" >&2; done; exit 1; }

# start_broker PORT NAMESPACE FORMAT [NODE_ID] → sets $broker_pid
start_broker() {
  local port="$1" ns="$2" format="$3" node="${4:-1}"
  "$broker_bin" --listeners="PLAINTEXT://127.0.0.1:$port" --log.dirs="$work/data-$port" --node.id="$node" \
    --kwire.storage=pulsar --pulsarServiceUrl="$url" --pulsarWebServiceUrl="$web" \
    --kwire.namespace="$ns" --entryFormat="$format" --group.initial.rebalance.delay.ms=0 \
    >>"$work/broker-$port.log" 2>&1 &
  broker_pid=$!
  pids+=("$broker_pid")
  wait_listening "$port" "$broker_pid" || fail "kwire-broker on $port did not listen: $(tail -3 "$work/broker-$port.log")"
}
stop_broker() { kill -"${2:-TERM}" "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

kafka() { "$kafka_cli" "$@" 2>>"$work/kafka.err"; }
# batch_codecs BOOTSTRAP TOPIC → the codec of each fetched batch of partition 0
batch_codecs() { "${KWIRE_PROBE:?KWIRE_PROBE must name kwire-probe}" fetch "$1" "$2" 0 | json_lines 'r["compression"]' | tr '\n' ' '; }
pulsar_peer() { java -cp "$pulsar_cp" "$here/PulsarPeer.java" "$@" 2>>"$work/java.err" | grep '^{' || true; }
stats() { curl -sf "$web/admin/v2/persistent/$1/stats"; }
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {'d': d}))" "$1"; }
# wait_backlog TOPIC SUBSCRIPTION WANT: the subscription's backlog once it is
# WANT ("None": no such subscription), or what it is after 10 s (commits
# reach the subscription shortly after they are acknowledged).
wait_backlog() {
  local b=""
  for _ in $(seq 1 50); do
    b="$(stats "$1" | json_get "d['subscriptions'].get('$2', {}).get('msgBacklog')" || true)"
    [[ "$b" == "$3" ]] && break
    sleep 0.2
  done
  echo "$b"
}
json_lines() { python3 -c "import json,sys; [print(eval(sys.argv[1], {'r': json.loads(l)})) for l in sys.stdin]" "$1"; }

ns="e2e-$run_id"
port="$(free_port)"
start_broker "$port" "$ns" pulsar
bs="127.0.0.1:$port"

echo "== 1. Kafka producer -> native Pulsar consumers"
kafka kafka-topics --bootstrap-server "$bs" --create --topic greet --partitions 1 >/dev/null
before_ms=$(($(date +%s%3N) - 1000))
printf 'src:kafka,n:0\tk0\thello\nsrc:kafka,n:1\tk1\tworld\n' |
  kafka kafka-console-producer --bootstrap-server "$bs" --topic greet \
    --reader-property parse.key=true --reader-property parse.headers=true --command-property acks=all
after_ms=$(($(date +%s%3N) + 1000))
"$cli" consume --url "$url" --topic "persistent://public/$ns/greet-partition-0" --reader -n 2 >"$work/native.json"
pulsar_peer consume "$url" "persistent://public/$ns/greet-partition-0" 2 java-check >"$work/java.json"
python3 - "$work/native.json" "$work/java.json" "$before_ms" "$after_ms" <<'PY'
import json, sys
lo, hi = int(sys.argv[3]), int(sys.argv[4])
for path in sys.argv[1:3]:
    rows = [json.loads(l) for l in open(path)]
    assert len(rows) == 2, (path, rows)
    for i, (k, v) in enumerate([("k0", "hello"), ("k1", "world")]):
        r = rows[i]
        assert r["key"] == k and r["value"] == v, r
        assert r["properties"] == {"src": "kafka", "n": str(i)}, r
        assert lo <= r["event_time"] <= hi, (r["event_time"], lo, hi)
        assert r["index"] == i, r
print("native consumers (kwire_pulsar and Java) read key, value, event time, headers")
PY

if want 2; then
echo "== 2. native Pulsar producer -> Kafka consumer"
kafka kafka-topics --bootstrap-server "$bs" --create --topic native --partitions 1 >/dev/null
pulsar_peer produce "$url" "persistent://public/$ns/native-partition-0" 20 true nk >/dev/null
printf 'kafka-after\n' | kafka kafka-console-producer --bootstrap-server "$bs" --topic native
kafka kafka-console-consumer --bootstrap-server "$bs" --topic native --from-beginning --max-messages 21 \
  --timeout-ms 30000 --formatter-property print.offset=true --formatter-property print.key=true --formatter-property print.timestamp=true \
  >"$work/native-kafka.txt"
python3 - "$work/native-kafka.txt" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if "\t" in l]
assert len(rows) == 21, rows
for i, r in enumerate(rows):
    ts, off, key, value = r[0], r[1], r[2], r[3]
    assert off == f"Offset:{i}", r
    if i < 20:
        assert key == f"nk-{i}" and value == f"value-{i}", r
        assert ts == f"CreateTime:{1700000000000 + i}", r
    else:
        assert value == "kafka-after", r
print("offsets 0..20 continuous over native and Kafka writes")
PY

fi

if want 3; then
echo "== 3. entry format kafka"
ns_k="e2ek-$run_id"
port_k="$(free_port)"
start_broker "$port_k" "$ns_k" kafka
printf 'a\nb\nc\n' | kafka kafka-console-producer --bootstrap-server "127.0.0.1:$port_k" --topic raw --command-property linger.ms=200
kafka kafka-console-consumer --bootstrap-server "127.0.0.1:$port_k" --topic raw --from-beginning --max-messages 3 \
  --timeout-ms 30000 --formatter-property print.offset=true >"$work/raw.txt"
[[ "$(grep Offset "$work/raw.txt" | tr '\n' ' ')" == "Offset:0	a Offset:1	b Offset:2	c " ]] || fail "kafka format read back: $(cat "$work/raw.txt")"
in_count="$(stats "public/$ns_k/raw-partition-0" | json_get 'd["msgInCounter"]')"
[[ "$in_count" == 3 ]] || fail "kafka-format entries count 3 messages in Pulsar, got $in_count"
echo "kafka format: 3 records, Pulsar counts 3 messages"
# A compressed Kafka batch is served as it was produced, still compressed.
printf 'a\nb\nc\n' | kafka kafka-console-producer --bootstrap-server "127.0.0.1:$port_k" --topic rawz \
  --compression-codec snappy --command-property linger.ms=500
codecs_k="$(batch_codecs "127.0.0.1:$port_k" rawz)"
[[ -n "$codecs_k" && -z "${codecs_k//snappy /}" ]] || fail "kafka format: snappy batches fetched as: $codecs_k"
echo "kafka format: snappy batches are fetched as snappy batches"

fi

if want 4; then
echo "== 4. consumer group commit -> Pulsar subscription"
kafka kafka-console-consumer --bootstrap-server "$bs" --topic greet --from-beginning --max-messages 2 \
  --timeout-ms 30000 --group g1 >/dev/null
backlog="$(wait_backlog "public/$ns/greet-partition-0" g1 0)"
[[ "$backlog" == 0 ]] || fail "g1 backlog after consuming all: $backlog"
printf 'x\ny\nz\n' | kafka kafka-console-producer --bootstrap-server "$bs" --topic greet --sync
backlog="$(wait_backlog "public/$ns/greet-partition-0" g1 3)"
[[ "$backlog" == 3 ]] || fail "g1 backlog after 3 more records: $backlog"
kafka kafka-consumer-groups --bootstrap-server "$bs" --describe --group g1 >"$work/g1.txt" || true
grep -q 'greet' "$work/g1.txt" || fail "kafka-consumer-groups: $(cat "$work/g1.txt")"
echo "g1: committed offset 2 is subscription g1; backlog 3 after 3 more single-record batches"
kafka kafka-consumer-groups --bootstrap-server "$bs" --delete --group g1 >/dev/null
backlog="$(wait_backlog "public/$ns/greet-partition-0" g1 None)"
[[ "$backlog" == None ]] || fail "subscription g1 still there after the group was deleted (backlog $backlog)"
echo "deleting group g1 removed its subscription"

fi

if want 5; then
echo "== 5. idempotent acks=all stream across kwire-broker and Pulsar restarts"
kafka kafka-topics --bootstrap-server "$bs" --create --topic stream --partitions 1 >/dev/null
n=300
(for i in $(seq 1 $n); do echo "$i"; sleep 0.03; done) |
  kafka kafka-console-producer --bootstrap-server "$bs" --topic stream \
    --command-property acks=all --command-property enable.idempotence=true \
    --message-send-max-retries 1000000 --command-property delivery.timeout.ms=180000 \
    --command-property retry.backoff.ms=200 --command-property reconnect.backoff.max.ms=1000 \
    >"$work/stream-producer.log" 2>&1 &
producer_pid=$!
sleep 3
echo "restarting kwire-broker"
stop_broker "$broker_pid"
start_broker "$port" "$ns" pulsar
if [[ -n "$pulsar_dir" ]]; then
  sleep 2
  echo "restarting Pulsar"
  "$root/tools/pulsar/pulsar-standalone.sh" stop "$pulsar_dir"
  "$root/tools/pulsar/pulsar-standalone.sh" start "$pulsar_dir" >/dev/null
fi
wait "$producer_pid" || fail "console producer failed"
# With unlimited retries every record is acknowledged in the end; a record
# the producer gave up on would be reported here.
if grep -q 'Error when sending message' "$work/stream-producer.log"; then
  fail "the producer gave up on records: $(grep -m3 -A1 'Error when sending' "$work/stream-producer.log")"
fi
kafka kafka-console-consumer --bootstrap-server "$bs" --topic stream --from-beginning --max-messages $n \
  --timeout-ms 60000 --formatter-property print.offset=true >"$work/stream.txt" || true
# What Pulsar holds: each entry's index, message count and writer.
"$cli" entries --url "$url" --topic "persistent://public/$ns/stream-partition-0" -n 100000 --timeout-ms 3000 \
  >"$work/stream.entries" 2>/dev/null || true
if ! python3 - "$work/stream.txt" "$n" "$work/stream.entries" <<'PY'
import collections, json, sys
n = int(sys.argv[2])
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.startswith("Offset:")]
offs = [int(r[0].split(":")[1]) for r in rows]
got = [int(r[1]) for r in rows]
entries = [json.loads(l) for l in open(sys.argv[3])]
# Pulsar's index skips numbers when a Pulsar restart loses a write it had
# counted; Kafka offsets may skip exactly there, and nowhere else.
holes = {}
prev = -1
for e in entries:
    first = e["index"] - e["messages"] + 1
    if first != prev + 1:
        holes[prev] = first
    prev = e["index"]
c = collections.Counter(got)
dups = [k for k, v in c.items() if v > 1]
missing = [i for i in range(1, n + 1) if i not in c]
try:
    for i in range(1, len(offs)):
        if offs[i] != offs[i - 1] + 1:
            assert holes.get(offs[i - 1]) == offs[i], \
                f"offsets jump {offs[i - 1]} -> {offs[i]} at row {i} where Pulsar's index does not: {rows[max(0, i - 3):i + 3]}"
    assert offs and offs[0] == 0, offs[:3]
    assert offs[-1] == prev, f"last offset {offs[-1]}, Pulsar's last index {prev}"
    assert not dups, f"duplicates: {dups[:10]}"
    assert not missing, f"missing: {missing[:10]} ({len(missing)})"
    assert got == sorted(got), "out of order"
except AssertionError:
    prev = -1
    for e in entries:
        first = e["index"] - e["messages"] + 1
        mark = "" if first == prev + 1 else "   <-- not after the previous entry"
        print(f'{e["id"]} index {e["index"]} messages {e["messages"]} {e["producer"]} seq {e["sequence_id"]} '
              f'{e["properties"].get("kwire.producer.epoch")}/{e["properties"].get("kwire.base.sequence")}{mark}',
              file=sys.stderr)
    raise
skipped = sum(b - a - 1 for a, b in holes.items())
print(f"{n} records exactly once, in order; offsets continuous"
      + (f" except where Pulsar's index skips {skipped} number(s) after its restart" if skipped else ""))
PY
then
  fail "the stream through restarts is not every record once at Pulsar's offsets"
fi

fi

if want 7; then
echo "== 7. a long poll wakes on Pulsar's delivery"
kafka kafka-topics --bootstrap-server "$bs" --create --topic wake --partitions 1 >/dev/null
# Each fetch may wait 25 s; the consumer gives up after 20 s without a record.
kafka kafka-console-consumer --bootstrap-server "$bs" --topic wake --partition 0 --offset 0 --max-messages 1 \
  --timeout-ms 20000 --command-property fetch.max.wait.ms=25000 --formatter-property print.key=true \
  >"$work/wake.txt" &
consumer_pid=$!
sleep 4  # the consumer is now waiting at offset 0
pulsar_peer produce "$url" "persistent://public/$ns/wake-partition-0" 1 false wk >/dev/null
wait "$consumer_pid" || true
grep -q '^wk-0' "$work/wake.txt" || fail "the waiting consumer did not get the native record: $(cat "$work/wake.txt")"
echo "a consumer whose fetches wait up to 25 s got the native record as Pulsar delivered it"
fi

if want 8; then
echo "== 8. compressed entries both ways"
codecs="LZ4:lz4 ZLIB:gzip ZSTD:zstd SNAPPY:snappy"
topics=()
for pair in $codecs; do
  native="${pair%%:*}" codec="${pair##*:}"
  kafka kafka-topics --bootstrap-server "$bs" --create --topic "zip-$codec" --partitions 1 >/dev/null
  pulsar_peer produce "$url" "persistent://public/$ns/zip-$codec-partition-0" 10 true "z$codec" "$native" >/dev/null
  printf 'kafka-%s-1\nkafka-%s-2\n' "$codec" "$codec" |
    kafka kafka-console-producer --bootstrap-server "$bs" --topic "zip-$codec" \
      --compression-codec "$codec" --command-property linger.ms=200
  kafka kafka-console-consumer --bootstrap-server "$bs" --topic "zip-$codec" --from-beginning --max-messages 12 \
    --timeout-ms 30000 --formatter-property print.offset=true --formatter-property print.key=true \
    >"$work/zip-$codec.txt" || true
  # Both entries are stored compressed, each with its producer's codec.
  "$cli" entries --url "$url" --topic "persistent://public/$ns/zip-$codec-partition-0" -n 2 >"$work/zip-$codec.entries"
  [[ "$(json_lines 'r["compression"]' <"$work/zip-$codec.entries" | tr '\n' ' ')" == "$native $native " ]] ||
    fail "zip-$codec entries not stored as $native: $(cat "$work/zip-$codec.entries")"
  # ... and Kafka clients fetch every batch with that codec, not inflated: the
  # native entry and the console producer's records (one batch as a rule; two
  # when the machine is slow enough for the second line to miss the linger).
  fetched="$(batch_codecs "$bs" "zip-$codec")"
  read -ra got <<<"$fetched"
  (( ${#got[@]} >= 2 && ${#got[@]} <= 3 )) || fail "zip-$codec batches fetched as: $fetched"
  for c in "${got[@]}"; do [[ "$c" == "$codec" ]] || fail "zip-$codec batches fetched as: $fetched"; done
  topics+=("persistent://public/$ns/zip-$codec-partition-0")
done
pulsar_peer consume "$url" "$(IFS=,; echo "${topics[*]}")" 48 zip-check >"$work/zip-native.json"
python3 - "$work" "$codecs" <<'PY'
import json, sys
work, codecs = sys.argv[1], [p.split(":")[1] for p in sys.argv[2].split()]
native = [json.loads(l) for l in open(f"{work}/zip-native.json")]
for codec in codecs:
    rows = [l.rstrip("\n").split("\t") for l in open(f"{work}/zip-{codec}.txt") if "\t" in l]
    assert len(rows) == 12, (codec, rows)
    for i, (off, key, value) in enumerate(rows):
        assert off == f"Offset:{i}", (codec, rows)
        want = (f"z{codec}-{i}", f"value-{i}") if i < 10 else ("null", f"kafka-{codec}-{i - 9}")
        assert (key, value) == want, (codec, i, key, value)
    mine = [r for r in native if r["topic"].endswith(f"/zip-{codec}-partition-0")]
    values = [r["value"] for r in mine]
    assert values == [f"value-{i}" for i in range(10)] + [f"kafka-{codec}-1", f"kafka-{codec}-2"], (codec, values)
    assert [r["index"] for r in mine] == list(range(12)), (codec, mine)
print("native LZ4/ZLIB/ZSTD/SNAPPY batches read by Kafka; Kafka lz4/gzip/zstd/snappy batches "
      "stored compressed and read by Pulsar's client")
PY
fi

if want 6; then
echo "== 6. two gateways, one killed mid-stream"
pid_a="$broker_pid"
port_b="$(free_port)"
start_broker "$port_b" "$ns" pulsar 2
pid_b="$broker_pid"
both="$bs,127.0.0.1:$port_b"
for _ in $(seq 1 100); do
  grep -q 'gateways now: 1, 2' "$work/broker-$port.log" && grep -q 'gateways now: 1, 2' "$work/broker-$port_b.log" && break
  sleep 0.1
done
grep -q 'gateways now: 1, 2' "$work/broker-$port_b.log" || fail "the gateways did not see each other"
kafka kafka-topics --bootstrap-server "$both" --create --topic handover --partitions 6 >/dev/null
kafka kafka-topics --bootstrap-server "$both" --describe --topic handover >"$work/handover-topic.txt"
leaders="$(grep -o 'Leader: [0-9]*' "$work/handover-topic.txt" | sort -u | tr '\n' ' ')"
[[ "$leaders" == "Leader: 1 Leader: 2 " ]] || fail "partitions not split between the gateways: $leaders"
n=600
(for i in $(seq 1 $n); do printf 'k%s\th-%s\n' "$i" "$i"; sleep 0.02; done) |
  kafka kafka-console-producer --bootstrap-server "$both" --topic handover --reader-property parse.key=true \
    --command-property acks=all --command-property enable.idempotence=true \
    --message-send-max-retries 1000000 --command-property delivery.timeout.ms=120000 \
    --command-property request.timeout.ms=5000 --command-property retry.backoff.ms=200 \
    --command-property reconnect.backoff.max.ms=1000 --command-property linger.ms=5 \
    >"$work/handover-producer.log" 2>&1 &
producer_pid=$!
# A group consumes part of the stream and commits (through whichever
# gateway coordinates it) before the kill.
kafka kafka-console-consumer --bootstrap-server "$both" --topic handover --group gh --from-beginning \
  --command-property max.poll.records=1 --max-messages 100 --timeout-ms 60000 >"$work/gh-1.txt" || true
[[ "$(grep -c '^h-' "$work/gh-1.txt")" == 100 ]] || fail "group gh read $(grep -c '^h-' "$work/gh-1.txt") of 100 before the kill"
kill -0 "$producer_pid" 2>/dev/null || fail "the stream ended before the kill: make it longer"
stop_broker "$pid_a" KILL
echo "killed gateway 1 mid-stream"
wait "$producer_pid" || fail "console producer failed"
if grep -q 'Error when sending message' "$work/handover-producer.log"; then
  fail "the producer gave up on records: $(grep -m3 -A1 'Error when sending' "$work/handover-producer.log")"
fi
kafka kafka-console-consumer --bootstrap-server "127.0.0.1:$port_b" --topic handover --group gh \
  --command-property max.poll.records=1 --max-messages $((n - 100)) --timeout-ms 60000 >"$work/gh-2.txt" || true
kafka kafka-console-consumer --bootstrap-server "127.0.0.1:$port_b" --topic handover --from-beginning \
  --max-messages $n --timeout-ms 60000 --formatter-property print.partition=true \
  --formatter-property print.offset=true >"$work/handover.txt" || true
python3 - "$work/handover.txt" "$work/gh-1.txt" "$work/gh-2.txt" "$n" <<'PY'
import collections, sys
n = int(sys.argv[4])
want = {f"h-{i}" for i in range(1, n + 1)}
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if "\t" in l]
by_partition = collections.defaultdict(list)
values = []
for r in rows:
    part, off, value = int(r[0].split(":")[1]), int(r[1].split(":")[1]), r[2]
    by_partition[part].append(off)
    values.append(value)
for p, offs in by_partition.items():
    assert offs == list(range(len(offs))), f"partition {p}: offsets not continuous {offs[:5]}..."
c = collections.Counter(values)
assert not [v for v, k in c.items() if k > 1], f"duplicates: {[v for v, k in c.items() if k > 1][:5]}"
assert set(c) == want, f"missing: {sorted(want - set(c))[:10]} ({len(want - set(c))})"
group = [l.strip() for f in sys.argv[2:4] for l in open(f) if l.startswith("h-")]
g = collections.Counter(group)
assert not [v for v, k in g.items() if k > 1], f"group gh read twice: {[v for v, k in g.items() if k > 1][:5]}"
assert set(g) == want, f"group gh missed {sorted(want - set(g))[:10]}"
assert len(by_partition) == 6, f"keyed records reached only partitions {sorted(by_partition)}"
print(f"{n} records once over 6 partitions ({', '.join(str(len(o)) for _, o in sorted(by_partition.items()))}), "
      "offsets continuous; group gh resumed on the survivor")
PY
fi

echo "broker e2e ok"
