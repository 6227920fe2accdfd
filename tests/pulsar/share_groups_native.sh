#!/usr/bin/env bash
# A Kafka share group (KIP-932) on Pulsar is the Pulsar Shared subscription of
# the same name on each partition of the topic: Kafka's KafkaShareConsumers
# (tests/interop/java/ShareGroups.java `serve`) and Pulsar's own Java client
# (PulsarPeer.java `shared`) on that subscription take their records from one
# queue.
#   1. two share consumers of group nq and a native consumer of the Shared
#      subscription nq on topic queue (3 partitions), all subscribed before
#      3000 records are produced: between them they get every record, none
#      twice, and each side gets some (Pulsar hands a Shared subscription's
#      messages round to every consumer with permits).
#   2. a share consumer of group nq2 on topic requeue releases the records it
#      gets until 50 or more are released, then leaves; the native consumer of
#      nq2 gets every record once, the released ones as Pulsar redeliveries
#      after the share consumer had them.
# Both parts are checked, then the run fails if either failed.
#
# Run by ctest (tests/pulsar/CMakeLists.txt) with kwire-broker on the test
# standalone: KWIRE_BROKER_EXTRA holds the broker's storage flags, among them
# the namespace (--kwire.namespace, and --kwire.tenant if not public), and
# KWIRE_PULSAR_URL the standalone's service URL.
source "$(dirname "$0")/../interop/lib.sh"

flag() { sed -n "s/.*--$1=\([^ ]*\).*/\1/p" <<<"${KWIRE_BROKER_EXTRA:-}"; }
ns="$(flag 'kwire\.namespace')"
tenant="$(flag 'kwire\.tenant')"
tenant="${tenant:-public}"
[[ -n "$ns" ]] || { echo "KWIRE_BROKER_EXTRA has no --kwire.namespace: not a run on Pulsar" >&2; exit 1; }
url="${KWIRE_PULSAR_URL:?KWIRE_PULSAR_URL must name the Pulsar service URL}"
kafka_cp="$(kafka_classpath)"
pulsar_cp="$("$ROOT/tools/pulsar/pulsar-standalone.sh" classpath)"

start_broker
# Commands, not functions: started in the background they are the java
# processes themselves, which the exit trap (lib.sh) can stop.
share_groups=(java -cp "$kafka_cp" "$ROOT/tests/interop/java/ShareGroups.java" "$BOOTSTRAP")
pulsar_peer=(java -cp "$pulsar_cp" "$ROOT/tests/pulsar/PulsarPeer.java")

# wait_ready FILE PID NAME: the peer printed its ready line (or died).
wait_ready() {
  local deadline=$((SECONDS + 120))
  until grep -q '"ready"' "$1"; do
    if ! kill -0 "$2" 2>/dev/null; then
      echo "$3 exited before it was ready:" >&2
      tail -n 30 "$1.err" >&2
      exit 1
    fi
    ((SECONDS < deadline)) || { echo "$3 not ready after 120 s" >&2; tail -n 30 "$1.err" >&2; exit 1; }
    sleep 0.5
  done
}

# finish PID NAME FILE: the peer's exit status; a peer that failed ends the
# run (a broken run, not a finding about the queue).
finish() {
  local rc=0
  wait "$1" || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "$2 failed (exit $rc):" >&2
    tail -n 30 "$3.err" >&2
    exit 1
  fi
}

failed=()

# ---- 1. one queue, two kinds of consumers
n=3000
"${share_groups[@]}" prepare queue 3 nq
"${share_groups[@]}" serve nq queue 2 10000 "$WORK/nq.kafka.done" >"$WORK/nq.kafka" 2>"$WORK/nq.kafka.err" &
kafka_pid=$!
"${pulsar_peer[@]}" shared "$url" "persistent://$tenant/$ns/queue" nq 10000 "$WORK/nq.native.done" \
  >"$WORK/nq.native" 2>"$WORK/nq.native.err" &
native_pid=$!
wait_ready "$WORK/nq.kafka" "$kafka_pid" "the share consumers of nq"
wait_ready "$WORK/nq.native" "$native_pid" "the native consumer of nq"
"${share_groups[@]}" produce queue q- "$n"
touch "$WORK/nq.kafka.done" "$WORK/nq.native.done"
finish "$kafka_pid" "the share consumers of nq" "$WORK/nq.kafka"
finish "$native_pid" "the native consumer of nq" "$WORK/nq.native"
python3 - "$WORK/nq.kafka" "$WORK/nq.native" "$n" <<'PY' || failed+=(1)
import collections, json, sys
def rows(path):
    return [r for r in (json.loads(l) for l in open(path) if l.startswith('{')) if 'value' in r]
kafka, native, n = rows(sys.argv[1]), rows(sys.argv[2]), int(sys.argv[3])
want = {f"q-{i}" for i in range(n)}
per_consumer = collections.Counter(r["consumer"] for r in kafka)
print(f"part 1: share consumers got {len(kafka)} records {dict(sorted(per_consumer.items()))}, "
      f"the native consumer {len(native)}, of {n}")
bad = []
not_accepted = [r["value"] for r in kafka if r["ack"] != "ACCEPT"]
if not_accepted:
    bad.append(f"share consumers did not accept {not_accepted[:5]}")
count = collections.Counter(r["value"] for r in kafka + native)
twice = sorted(v for v, k in count.items() if k > 1)
if twice:
    both = set(r["value"] for r in kafka) & set(r["value"] for r in native)
    bad.append(f"{len(twice)} records received more than once ({len(both)} by both sides), e.g. {twice[:5]}")
missing, extra = sorted(want - count.keys()), sorted(count.keys() - want)
if missing:
    bad.append(f"{len(missing)} records received by no one, e.g. {missing[:5]}")
if extra:
    bad.append(f"records never produced: {extra[:5]}")
if not kafka or not native:
    bad.append("one side got nothing: the queue was not shared")
for b in bad:
    print("FAIL part 1:", b)
sys.exit(1 if bad else 0)
PY

# ---- 2. released by a share consumer, redelivered to the native one
n=600
"${share_groups[@]}" prepare requeue 3 nq2
"${share_groups[@]}" serve nq2 requeue 1 10000 "$WORK/nq2.kafka.done" release 50 \
  >"$WORK/nq2.kafka" 2>"$WORK/nq2.kafka.err" &
kafka_pid=$!
"${pulsar_peer[@]}" shared "$url" "persistent://$tenant/$ns/requeue" nq2 10000 "$WORK/nq2.native.done" \
  >"$WORK/nq2.native" 2>"$WORK/nq2.native.err" &
native_pid=$!
wait_ready "$WORK/nq2.kafka" "$kafka_pid" "the share consumer of nq2"
wait_ready "$WORK/nq2.native" "$native_pid" "the native consumer of nq2"
"${share_groups[@]}" produce requeue r- "$n"
touch "$WORK/nq2.kafka.done"
# The native consumer waits for redeliveries until the share consumer is gone.
finish "$kafka_pid" "the share consumer of nq2" "$WORK/nq2.kafka"
touch "$WORK/nq2.native.done"
finish "$native_pid" "the native consumer of nq2" "$WORK/nq2.native"
python3 - "$WORK/nq2.kafka" "$WORK/nq2.native" "$n" <<'PY' || failed+=(2)
import collections, json, sys
def rows(path):
    return [r for r in (json.loads(l) for l in open(path) if l.startswith('{')) if 'value' in r]
kafka, native, n = rows(sys.argv[1]), rows(sys.argv[2]), int(sys.argv[3])
want = {f"r-{i}" for i in range(n)}
released = {}
for r in kafka:
    if r["ack"] == "RELEASE":
        released.setdefault(r["value"], r["at"])
got = {}
count = collections.Counter()
for r in native:
    count[r["value"]] += 1
    got.setdefault(r["value"], r)
redelivered = [v for v in released if v in got and got[v]["redelivery"] > 0 and got[v]["at"] >= released[v]]
print(f"part 2: the share consumer released {len(released)} records and left; the native consumer got "
      f"{len(native)} of {n}, {len(redelivered)} of the released ones redelivered after the release")
bad = []
if not released:
    bad.append("the share consumer got nothing to release")
twice = sorted(v for v, k in count.items() if k > 1)
if twice:
    bad.append(f"the native consumer got {len(twice)} records more than once, e.g. {twice[:5]}")
missing, extra = sorted(want - count.keys()), sorted(count.keys() - want)
if missing:
    bad.append(f"the native consumer never got {len(missing)} records, e.g. {missing[:5]}")
if extra:
    bad.append(f"records never produced: {extra[:5]}")
lost = sorted(v for v in released if v not in got)
first = sorted(v for v in released if v in got and got[v]["redelivery"] == 0)
early = sorted(v for v in released if v in got and got[v]["at"] < released[v])
if lost:
    bad.append(f"{len(lost)} released records never reached the native consumer, e.g. {lost[:5]}")
if first:
    bad.append(f"{len(first)} released records reached the native consumer as first deliveries "
               f"(redelivery count 0), e.g. {first[:5]}")
if early:
    bad.append(f"{len(early)} released records reached the native consumer before the share consumer had them, "
               f"e.g. {early[:5]}")
for b in bad:
    print("FAIL part 2:", b)
sys.exit(1 if bad else 0)
PY

if ((${#failed[@]})); then
  echo "failed: part ${failed[*]}" >&2
  exit 1
fi
echo "OK: the share groups and the Shared subscriptions are one queue"
