#!/usr/bin/env bash
# Throughput of kwire-broker on Pulsar storage next to Pulsar's own Java
# client, on one Pulsar standalone in one run.
#
#   bench/pulsar/run.sh [KWIRE_BROKER]
#
# KWIRE_BROKER defaults to build/default/examples/broker/kwire-broker.
# Environment:
#   RECORDS (200000), RECORD_SIZE (1024)   records per run and bytes per record
#   ROUNDS (3)                             rounds; the report gives medians
#   OUT (bench/results/pulsar.md)          the report
#   KEEP=1                                 keep the work directory (logs)
#   LATENCY_BATCH (131072), LATENCY_SENDS (2000)   the latency rows' batch
#                                          bytes and sends (below)
#
# Rows, each writing RECORDS records into a new 1-partition topic and then
# reading them all back, run in turn in every round:
#   pulsar-client    bench/pulsar/PulsarPerf.java (Pulsar's Java client)
#   kwire, pulsar    kwire-broker --entryFormat=pulsar, Kafka's
#                    kafka-producer-perf-test (acks=all) then
#                    kafka-consumer-perf-test
#   kwire, kafka     the same with --entryFormat=kafka
#   both kwire rows again with the producer's batch.size at 128 KiB, the
#   Pulsar client's default batch byte limit (kwire stores one Kafka batch as
#   one Pulsar entry, so the batch size sets how much each entry carries)
# and two latency rows (the gateway's own cost, see "the gateway's own
# latency" below): Pulsar's client and a franz-go producer through kwire.
# The standalone listens on 26650/28080/23181, away from the tests' ports.
# bench/pulsar/notes.md (hand-written remarks) is appended to the report.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/tests/support/net.sh"
broker_bin="${1:-$root/build/default/examples/broker/kwire-broker}"
records="${RECORDS:-200000}"
size="${RECORD_SIZE:-1024}"
rounds="${ROUNDS:-3}"
out="${OUT:-$root/bench/results/pulsar.md}"

export PULSAR_PORT=26650 PULSAR_HTTP_PORT=28080 PULSAR_BOOKIE_PORT=23181 PULSAR_WIPE=1
url="pulsar://127.0.0.1:$PULSAR_PORT"
web="http://127.0.0.1:$PULSAR_HTTP_PORT"
standalone="$root/tools/pulsar/pulsar-standalone.sh"
kafka_cli="$root/tools/peers/kafka-cli.sh"

[[ -x "$broker_bin" ]] || { echo "no kwire-broker at $broker_bin" >&2; exit 2; }
broker_bin="$(cd "$(dirname "$broker_bin")" && pwd)/$(basename "$broker_bin")"
case "$broker_bin" in
  "$root"/*) broker_label="${broker_bin#"$root"/}" ;;
  *) broker_label="a copy of build/default/examples/broker/kwire-broker" ;;
esac

work="$(mktemp -d)"
run_id="$(date +%s)"
pids=()
failed=0
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  "$standalone" stop "$work/pulsar" || true
  if [[ "${KEEP:-0}" == 1 || "$failed" != 0 ]]; then
    echo "logs kept in $work" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
kafka() { "$kafka_cli" "$@"; }

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
pulsar_cp="$("$standalone" classpath)"
pulsar_version="$(tr ':' '\n' <<<"$pulsar_cp" | sed -n 's#.*/pulsar-client-original-\([^/]*\)\.jar$#\1#p' | head -1)"
kafka_version="$("$root/tools/peers/kafka-classpath.sh" | tr ':' '\n' | sed -n 's#.*/kafka-clients-\([^/]*\)\.jar$#\1#p' | head -1)"

log "starting Pulsar $pulsar_version standalone on $url"
"$standalone" start "$work/pulsar" >&2
pulsar_pid="$(cat "$work/pulsar/pulsar.pid")"

# results: one JSON object per row in $work/rows.jsonl
row() { python3 -c 'import json,sys; print(json.dumps(dict(a.split("=",1) for a in sys.argv[1:])))' "$@" >>"$work/rows.jsonl"; }
# pulsar_counts TOPIC → JSON: messages in, entries, bytes stored
pulsar_counts() {
  python3 - "$(curl -sf "$web/admin/v2/persistent/$1/stats" || echo '{}')" \
    "$(curl -sf "$web/admin/v2/persistent/$1/internalStats" || echo '{}')" <<'PY'
import json, sys
s, i = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({"pulsar_msg_in": s.get("msgInCounter"), "pulsar_storage": s.get("storageSize"),
                  "pulsar_entries": i.get("numberOfEntries")}))
PY
}

# --- Pulsar's Java client, direct -----------------------------------------
curl -sf -X PUT "$web/admin/v2/namespaces/public/bench-direct" >/dev/null
log "warm-up: Pulsar client, 20000 records"
java -cp "$pulsar_cp" "$here/PulsarPerf.java" "$url" "persistent://public/bench-direct/warmup-$run_id" 20000 "$size" \
  >"$work/warmup.json" 2>"$work/warmup.err" || log "warm-up failed: $(tail -3 "$work/warmup.err")"

# run_direct ROUND
run_direct() {
  local round="$1" status=ok topic="public/bench-direct/perf-$run_id-$1"
  log "round $round: Pulsar client, $records records of $size B"
  if ! java -cp "$pulsar_cp" "$here/PulsarPerf.java" "$url" "persistent://$topic" "$records" "$size" \
       >"$work/direct-$round.json" 2>"$work/direct-$round.err"; then
    status="failed: $(grep -v '^\s*at ' "$work/direct-$round.err" | tail -3 | tr '\n' ' ')"; failed=1
  fi
  python3 - "$work/direct-$round.json" "$status" "$round" "$(pulsar_counts "$topic")" >>"$work/rows.jsonl" <<'PY'
import json, sys
path, status, rnd, counts = sys.argv[1:]
try:
    # The client's own logging shares stdout; the result is the JSON line.
    d = json.loads([l for l in open(path) if l.startswith('{"records"')][-1])
except Exception:
    d = {}
r = {"row": "pulsar-client", "name": "Pulsar Java client, direct", "round": int(rnd), "status": status,
     "produce_rps": d.get("produce_rps"), "produce_mbps": d.get("produce_mbps"),
     "produce_s": d.get("produce_s"), "produced": d.get("records", 0) - d.get("produce_failed", 0) if d else None,
     "consume_rps": d.get("consume_rps"), "consume_mbps": d.get("consume_mbps"),
     "consume_s": d.get("consume_s"), "consumed": d.get("consumed")}
r.update(json.loads(counts))
print(json.dumps(r))
PY
  log "$(tail -1 "$work/rows.jsonl")"
}

# --- kwire-broker, once per entry format -----------------------------------
# start_kwire KEY FORMAT NAMESPACE: a kwire-broker on Pulsar; sets bs and
# broker_pid, logs to broker-KEY.log; fails (and marks the run failed) if it
# does not listen.
start_kwire() {
  local port
  port="$(free_port)"
  bs="127.0.0.1:$port"
  log "kwire-broker --entryFormat=$2 on $bs, namespace public/$3"
  "$broker_bin" --listeners="PLAINTEXT://$bs" --log.dirs="$work/data-$1" \
    --kwire.storage=pulsar --pulsarServiceUrl="$url" --pulsarWebServiceUrl="$web" \
    --kwire.namespace="$3" --entryFormat="$2" --group.initial.rebalance.delay.ms=0 \
    >"$work/broker-$1.log" 2>&1 &
  broker_pid=$!
  pids+=("$broker_pid")
  wait_listening "$port" "$broker_pid" || { failed=1; return 1; }
}

# run_kwire ROUND KEY FORMAT NAME [PRODUCER-PROPERTY...]
run_kwire() {
  local round="$1" key="$2" format="$3" name="$4"
  shift 4
  local ns bs topic="perf" broker_pid status=ok
  ns="bench-$key-$run_id-$round"
  key="$key-$round"  # file names
  start_kwire "$key" "$format" "$ns" || {
    row row="${key%-"$round"}" round="$round" name="$name" status="broker did not start: $(tail -3 "$work/broker-$key.log" | tr '\n' ' ')"
    return 0
  }

  kafka kafka-topics --bootstrap-server "$bs" --create --topic "$topic" --partitions 1 --replication-factor 1 \
    >"$work/topics-$key.log" 2>&1 || { status="topic creation failed"; failed=1; }

  log "kafka-producer-perf-test: $records records of $size B, acks=all $*"
  kafka kafka-producer-perf-test --bootstrap-server "$bs" --topic "$topic" --num-records "$records" \
    --record-size "$size" --throughput -1 --command-property acks=all "$@" \
    >"$work/producer-$key.log" 2>&1 || { status="producer perf test exited $?"; failed=1; }
  local prod_line
  prod_line="$(grep -E '^[0-9]+ records sent' "$work/producer-$key.log" | tail -1 || true)"
  if grep -qiE 'exception|error' "$work/producer-$key.log"; then
    status="producer errors: $(grep -iE -m2 'exception|error' "$work/producer-$key.log" | tr '\n' ' ')"; failed=1
  fi

  log "kafka-consumer-perf-test: $records records"
  kafka kafka-consumer-perf-test --bootstrap-server "$bs" --topic "$topic" --num-records "$records" \
    --group "bench-$key" --timeout 30000 \
    >"$work/consumer-$key.log" 2>&1 || { [[ $status == ok ]] && status="consumer perf test exited nonzero"; failed=1; }

  python3 - "${key%-"$round"}" "$round" "$name" "$status" "$prod_line" "$work/consumer-$key.log" "$records" \
    "$(pulsar_counts "public/$ns/$topic-partition-0")" >>"$work/rows.jsonl" <<'PY'
import json, re, sys
key, rnd, name, status, prod, cons_path, n, counts = sys.argv[1:]
n = int(n)
r = {"row": key, "round": int(rnd), "name": name}
m = re.match(r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\)", prod)
if m:
    r["produced"] = int(m.group(1))
    r["produce_rps"] = float(m.group(2))
    r["produce_mbps"] = float(m.group(3))
    r["produce_s"] = r["produced"] / r["produce_rps"] if r["produce_rps"] else None
    r["producer_summary"] = prod
    lat = re.search(r"([\d.]+) ms avg latency.*?(\d+) ms 99th", prod)
    if lat:
        r["latency_avg_ms"], r["latency_p99_ms"] = float(lat.group(1)), float(lat.group(2))
else:
    status = status if status != "ok" else "no producer summary"
lines = [l.strip() for l in open(cons_path) if l.strip()]
head = next((i for i, l in enumerate(lines) if l.startswith("start.time")), None)
if head is not None and head + 1 < len(lines):
    cols = [c.strip() for c in lines[head].split(",")]
    vals = [v.strip() for v in lines[head + 1].split(",")]
    c = dict(zip(cols, vals))
    r["consumed"] = int(c["data.consumed.in.nMsg"])
    r["consume_rps"] = float(c["fetch.nMsg.sec"])
    r["consume_mbps"] = float(c["fetch.MB.sec"])
    r["consume_s"] = float(c["fetch.time.ms"]) / 1000
    r["consume_total_rps"] = float(c["nMsg.sec"])
    r["rebalance_ms"] = float(c["rebalance.time.ms"])
else:
    status = status if status != "ok" else "no consumer summary"
if status == "ok" and r.get("produced") != n:
    status = f"produced {r.get('produced')} of {n}"
if status == "ok" and r.get("consumed") != n:
    status = f"consumed {r.get('consumed')} of {n}"
r.update(json.loads(counts))
r["status"] = status
print(json.dumps(r))
PY
  log "$(tail -1 "$work/rows.jsonl")"
  grep -q '"status": "ok"' <(tail -1 "$work/rows.jsonl") || failed=1
  # What the broker logged at warning level or above, for the report.
  grep -iE 'warn|error|fail|timeout|timed out' "$work/broker-$key.log" | head -20 >"$work/broker-$key.issues" || true
  kill -TERM "$broker_pid" 2>/dev/null || true
  wait "$broker_pid" 2>/dev/null || true
}

# --- the gateway's own latency -----------------------------------------------
# A Kafka producer (franz-go, acks=all, 5 requests in flight) sending 128 KiB
# batches through kwire-broker, next to Pulsar's client sending messages of
# that size with 5 sends pending. Each Kafka batch becomes one Pulsar entry,
# so the two wait for the same bookie writes; the difference of their p50
# latencies is what the gateway adds. Results go to latency.jsonl.
lat_bytes="${LATENCY_BATCH:-131072}" lat_sends="${LATENCY_SENDS:-2000}"
loadgen_bin="$work/loadgen"
(cd "$root/bench/broker/loadgen" && GOFLAGS=-mod=mod go build -o "$loadgen_bin" .)

run_direct_latency() {
  local round="$1" status=ok topic="persistent://public/bench-direct/latency-$run_id-$1"
  log "round $round: Pulsar client, $lat_sends messages of $lat_bytes B, 5 pending"
  java -cp "$pulsar_cp" "$here/PulsarPerf.java" "$url" "$topic" "$lat_sends" "$lat_bytes" latency \
    >"$work/direct-latency-$round.json" 2>"$work/direct-latency-$round.err" || { status="failed"; failed=1; }
  python3 - "$work/direct-latency-$round.json" "$status" "$round" >>"$work/latency.jsonl" <<'PY'
import json, sys
path, status, rnd = sys.argv[1:]
try:
    d = json.loads([l for l in open(path) if l.startswith('{"records"')][-1])
except Exception:
    d, status = {}, status if status != "ok" else "no result"
print(json.dumps({"row": "pulsar-client", "round": int(rnd), "status": status, "sends": d.get("records"),
                  "mbps": d.get("produce_mbps"), "p50_ms": d.get("p50_ms"), "p99_ms": d.get("p99_ms")}))
PY
  log "$(tail -1 "$work/latency.jsonl")"
}

run_kwire_latency() {
  local round="$1" key="kwire-latency-$1" status=ok
  if ! start_kwire "$key" kafka "bench-latency-$run_id-$round"; then
    echo "{\"row\": \"kwire\", \"round\": $round, \"status\": \"broker did not start\"}" >>"$work/latency.jsonl"
    return 0
  fi
  # About lat_sends requests: a batch of lat_bytes holds that many bytes of
  # 1 KiB records less their framing.
  "$loadgen_bin" create -brokers "$bs" -topic lat -partitions 1 >"$work/loadgen-$key.log" 2>&1 &&
    "$loadgen_bin" produce -brokers "$bs" -topic lat -records $((lat_sends * lat_bytes / 1040)) -size 1024 \
      -acks all -batch-bytes "$lat_bytes" >"$work/loadgen-$key.json" 2>>"$work/loadgen-$key.log" ||
    { status="loadgen failed: $(tail -2 "$work/loadgen-$key.log" | tr '\n' ' ')"; failed=1; }
  python3 - "$work/loadgen-$key.json" "$status" "$round" >>"$work/latency.jsonl" <<'PY'
import json, sys
path, status, rnd = sys.argv[1:]
try:
    d = json.loads(open(path).read().strip().splitlines()[-1])
except Exception:
    d, status = {}, status if status != "ok" else "no result"
if status == "ok" and d.get("errors"):
    status = f"{d['errors']} produce errors: {d.get('first_error')}"
print(json.dumps({"row": "kwire", "round": int(rnd), "status": status, "sends": d.get("requests"),
                  "mbps": d.get("mb_per_s"), "p50_ms": d.get("request_p50_ms"), "p99_ms": d.get("request_p99_ms")}))
PY
  log "$(tail -1 "$work/latency.jsonl")"
  kill -TERM "$broker_pid" 2>/dev/null || true
  wait "$broker_pid" 2>/dev/null || true
}

for round in $(seq 1 "$rounds"); do
  run_direct "$round"
  run_direct_latency "$round"
  run_kwire_latency "$round"
  run_kwire "$round" kwire-pulsar pulsar "kwire-broker, entry format pulsar"
  run_kwire "$round" kwire-kafka kafka "kwire-broker, entry format kafka"
  run_kwire "$round" kwire-pulsar-128k pulsar "kwire-broker, entry format pulsar, batch.size 128 KiB" batch.size=131072
  run_kwire "$round" kwire-kafka-128k kafka "kwire-broker, entry format kafka, batch.size 128 KiB" batch.size=131072
done

# --- report ------------------------------------------------------------------
# ERROR lines from the standalone's log during the runs, time and thread cut.
grep -E '^[0-9:.]+ ERROR ' "$work/pulsar/pulsar.log" | sed -E 's/^[0-9:.]+ ERROR +\[[^]]*\] //' |
  grep -v 'lastMark' | sed "s#$work#DATA#g" | cut -c1-200 | sort | uniq -c | sort -rn | head -10 >"$work/pulsar.errors" || true
export BENCH_WORK="$work" BENCH_OUT="$out" BENCH_RECORDS="$records" BENCH_SIZE="$size" BENCH_ROUNDS="$rounds"
export BENCH_CMD="RECORDS=$records RECORD_SIZE=$size bench/pulsar/run.sh"
export BENCH_CMD_NOTE=""
if [[ "$broker_label" != build/default/examples/broker/kwire-broker ]]; then
  BENCH_CMD="$BENCH_CMD KWIRE_BROKER" BENCH_CMD_NOTE=" (KWIRE_BROKER: $broker_label)"
fi
export BENCH_DATE="$(date -u '+%Y-%m-%d %H:%M UTC')"
export BENCH_REV="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
export BENCH_CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
export BENCH_NPROC="$(nproc)" BENCH_MEM="$(free -g | awk '/^Mem:/{print $2}')"
export BENCH_LOAD_BEFORE="$load_before" BENCH_LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
export BENCH_PULSAR="$pulsar_version" BENCH_KAFKA="$kafka_version"
export BENCH_JAVA="$(java -version 2>&1 | head -1 | tr -d '"')"
export BENCH_NOTES="$here/notes.md" BENCH_LAT_BYTES="$lat_bytes" BENCH_LAT_SENDS="$lat_sends"
mkdir -p "$(dirname "$out")"
python3 - <<'PY'
import json, os, statistics
E = os.environ
work, out = E["BENCH_WORK"], E["BENCH_OUT"]
runs = [json.loads(l) for l in open(os.path.join(work, "rows.jsonl"))]
order = list(dict.fromkeys(r["row"] for r in runs))
by_row = {k: [r for r in runs if r["row"] == k] for k in order}
def med(k, metric):
    v = [r[metric] for r in by_row.get(k, []) if r.get("status") == "ok" and isinstance(r.get(metric), (int, float))]
    return statistics.median(v) if v else None
def num(v, fmt):
    return fmt.format(v) if isinstance(v, (int, float)) else "–"
def ratio(k, metric):
    a, b = med(k, metric), med("pulsar-client", metric)
    return f"{a / b:.2f}×" if a is not None and b else "–"
n = int(E["BENCH_RECORDS"])
L = ["# kwire-broker on Pulsar next to Pulsar's own client", ""]
L += [f"Command: `{E['BENCH_CMD']}`{E['BENCH_CMD_NOTE']}", ""]
L += [f"Run {E['BENCH_DATE']} at kwire revision {E['BENCH_REV']}. Machine: {E['BENCH_CPU']}, {E['BENCH_NPROC']} cores, "
      f"{E['BENCH_MEM']} GiB; load average {E['BENCH_LOAD_BEFORE']} before, {E['BENCH_LOAD_AFTER']} after. "
      "Pulsar, kwire-broker and the client JVMs all share this machine, which other jobs may use too: expect noise.", ""]
L += [f"Pulsar {E['BENCH_PULSAR']} standalone as tools/pulsar/pulsar-standalone.sh starts it (one bookie, journal fsync on, "
      f"1 GiB heap, 2 IO threads); Kafka {E['BENCH_KAFKA']} clients; {E['BENCH_JAVA']}.", ""]
L += [f"Each row writes {n:,} records of {E['BENCH_SIZE']} B (one random payload, no key, no compression) into a new "
      f"1-partition topic, then reads them all back. The rows run in turn, {E['BENCH_ROUNDS']} rounds; the figures are "
      "medians over the rounds.", ""]
L += ["- Pulsar Java client: bench/pulsar/PulsarPerf.java. A producer with the client's default batching (up to 1000 "
      "messages or 128 KiB, 1 ms delay), async sends, blockIfQueueFull; produce time ends when the last send is "
      "acknowledged. Then a new Exclusive subscription from the earliest message receives them all (cumulative acks); "
      "the clock starts once subscribed. A 20,000-record warm-up on another topic runs first.",
      "- kwire rows: a new kwire-broker per row and round, in a new namespace. kafka-producer-perf-test "
      "(`--throughput -1`, `acks=all`, otherwise the producer's defaults: batch.size 16 KiB, linger.ms 5, up to 5 "
      "requests in flight), then kafka-consumer-perf-test in a new group. The consume figures are its fetch rate, which "
      "leaves out the group join. The batch.size 128 KiB rows set the Kafka producer's batch to the Pulsar client's "
      "default batch byte limit.", ""]
L += ["MB = 2^20 bytes of record values, as Kafka's perf tools count. Ratio = kwire median / Pulsar client median "
      "(above 1: kwire is faster).", ""]
L += ["| row | produce rec/s | produce MB/s | consume rec/s | consume MB/s | produce ratio | consume ratio | rounds ok |",
      "| --- | --- | --- | --- | --- | --- | --- | --- |"]
for k in order:
    rs = by_row[k]
    ok = sum(r.get("status") == "ok" for r in rs)
    L.append(f"| {rs[0].get('name', k)} | {num(med(k, 'produce_rps'), '{:,.0f}')} | {num(med(k, 'produce_mbps'), '{:.1f}')} | "
             f"{num(med(k, 'consume_rps'), '{:,.0f}')} | {num(med(k, 'consume_mbps'), '{:.1f}')} | "
             f"{ratio(k, 'produce_rps')} | {ratio(k, 'consume_rps')} | {ok} of {len(rs)} |")
L += ["", "Every run. Pulsar's counters come from the topic's stats after the run: messages in (msgInCounter), entries "
      "(numberOfEntries; one entry is one Pulsar batch, or one Kafka batch written by kwire-broker), bytes stored "
      "(storageSize). Latency is the Kafka producer's send-to-acknowledgement time as kafka-producer-perf-test reports it.", "",
      "| row | round | produce rec/s | consume rec/s | produced | consumed | producer latency avg / p99 ms | Pulsar messages | Pulsar entries | records per entry | Pulsar bytes | status |",
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
for k in order:
    for r in by_row[k]:
        ent = r.get("pulsar_entries")
        per = f"{r['produced'] / ent:.1f}" if isinstance(ent, int) and ent and isinstance(r.get("produced"), int) else "–"
        lat = (f"{r['latency_avg_ms']:,.0f} / {r['latency_p99_ms']:,.0f}" if "latency_avg_ms" in r else "–")
        L.append(f"| {r.get('name', k)} | {r.get('round')} | {num(r.get('produce_rps'), '{:,.0f}')} | "
                 f"{num(r.get('consume_rps'), '{:,.0f}')} | {num(r.get('produced'), '{:,}')} | {num(r.get('consumed'), '{:,}')} | "
                 f"{lat} | {num(r.get('pulsar_msg_in'), '{:,}')} | {num(ent, '{:,}')} | {per} | "
                 f"{num(r.get('pulsar_storage'), '{:,}')} | {r.get('status')} |")
L.append("")
issues = []
for r in runs:
    p = os.path.join(work, f"broker-{r['row']}-{r.get('round')}.issues")
    if os.path.exists(p) and os.path.getsize(p):
        issues += [f"{r['name']}, round {r.get('round')}: the broker's log lines at warning level or above (first 20):", "", "```"]
        issues += [l.rstrip().replace(work, "DATA")[:300] for l in open(p)]
        issues += ["```", ""]
L += issues if issues else ["kwire-broker logged nothing at warning level or above in any run.", ""]
p = os.path.join(work, "pulsar.errors")
if os.path.exists(p) and os.path.getsize(p):
    L += ["ERROR lines in the Pulsar standalone's log over the whole run (count, message):", "", "```"]
    L += [l.rstrip() for l in open(p)]
    L += ["```", ""]
lat_path = os.path.join(work, "latency.jsonl")
lat = [json.loads(l) for l in open(lat_path)] if os.path.exists(lat_path) else []
if lat:
    def lmed(k, m):
        v = [r[m] for r in lat if r["row"] == k and r.get("status") == "ok" and isinstance(r.get(m), (int, float))]
        return statistics.median(v) if v else None
    names = {"pulsar-client": "Pulsar Java client, one message per send, 5 pending",
             "kwire": "kwire-broker (entry format kafka), franz-go, acks=all, 5 requests in flight"}
    L += ["## The gateway's own latency", "",
          f"A Kafka producer (bench/broker/loadgen on franz-go, 1 KiB records, acks=all, batches of at most "
          f"{E['BENCH_LAT_BYTES']} bytes, linger 5 ms, 5 requests in flight) through kwire-broker, next to Pulsar's "
          f"Java client sending {E['BENCH_LAT_SENDS']} messages of {E['BENCH_LAT_BYTES']} bytes without batching, "
          "at most 5 pending. Both write one entry per send to the same standalone. Latency: for Pulsar, sendAsync "
          "to acknowledgement; for kwire, a produce request's round trip (franz-go's BrokerE2E, write start to "
          "response read). Goal: kwire's p50 at most 0.5 ms above Pulsar's.", "",
          "| row | sends (median) | MB/s | p50 ms | p99 ms | rounds ok |", "| --- | --- | --- | --- | --- | --- |"]
    for k in ["pulsar-client", "kwire"]:
        rs = [r for r in lat if r["row"] == k]
        ok = sum(r.get("status") == "ok" for r in rs)
        L.append(f"| {names[k]} | {num(lmed(k, 'sends'), '{:,.0f}')} | {num(lmed(k, 'mbps'), '{:.1f}')} | "
                 f"{num(lmed(k, 'p50_ms'), '{:.2f}')} | {num(lmed(k, 'p99_ms'), '{:.2f}')} | {ok} of {len(rs)} |")
    a, b = lmed("kwire", "p50_ms"), lmed("pulsar-client", "p50_ms")
    if a is not None and b is not None:
        L += ["", f"kwire's p50 minus Pulsar's: **{a - b:+.2f} ms** (goal ≤ 0.5 ms: {'met' if a - b <= 0.5 else 'short'})."]
    L += ["", "Every round: " + "; ".join(
        f"{r['row']} round {r['round']}: p50 {num(r.get('p50_ms'), '{:.2f}')} ms, p99 {num(r.get('p99_ms'), '{:.2f}')} ms"
        + ("" if r.get("status") == "ok" else f" ({r.get('status')})") for r in lat) + ".", ""]
notes = E.get("BENCH_NOTES")
if notes and os.path.exists(notes):
    L += [open(notes).read().strip(), ""]
open(out, "w").write("\n".join(L).rstrip() + "\n")
PY
log "wrote $out"
cat "$out"
exit "$failed"
