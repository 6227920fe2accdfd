#!/usr/bin/env bash
# kwire-broker next to a real Apache Kafka 4.4.0, asked the same exact
# requests by kwire-probe (tests/interop/probe): where Kafka's answer is the
# definition (error codes, what Metadata shows), kwire-broker must give the
# same one.
#   parity.sh <kwire-probe>
#
# - internal: the group-offsets topic appears in Metadata once a group
#   coordinator was asked for, marked internal, and clients' writes to it
#   (Produce, DeleteRecords, CreateTopics) get Kafka's errors. Not compared:
#   its partition count (kwire's is one per group shard) and DeleteTopics,
#   which Kafka carries out (dropping every group's offsets) and kwire refuses
#   (the topic is a view of the group store).
# - api-versions-v5: ApiVersions v5 with no, right and wrong cluster/node ids.
# - versions: every API kwire-broker advertises goes up to the version Kafka
#   advertises (kwire may also serve older ones, which Kafka 4 dropped).
source "$(dirname "$0")/lib.sh"
probe=$1
kafka_dir="$WORK/kafka"
kafka_port=""
stop_kafka() {
  [[ -n $kafka_port ]] && "$ROOT/tools/peers/kafka-server.sh" stop "$kafka_port" "$kafka_dir" >/dev/null 2>&1 || true
}
# cleanup (lib.sh) reads the exit status from $?: the test's is set again
# after stopping Kafka, with errexit off (a failing status would otherwise
# end the trap there, before cleanup stops the broker).
trap 'rc=$?; stop_kafka || true; set +e; (exit $rc); cleanup' EXIT

start_broker
kafka_port=$(free_port)
"$ROOT/tools/peers/kafka-server.sh" start "$kafka_port" "$kafka_dir" >/dev/null

compare() {  # compare <name> <json from kafka> <json from kwire> <keys not compared...>
  python3 - "$@" <<'PY'
import json, sys
name, kafka, kwire, skip = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), set(sys.argv[4:])
bad = [k for k in kafka if k not in skip and kafka[k] != kwire.get(k)]
for k in kafka:
    print(f"  {name}.{k}: kafka={kafka[k]} kwire={kwire.get(k)}{'   <-- differs' if k in bad else ''}")
if bad:
    sys.exit(f"{name}: kwire-broker differs from Kafka in {', '.join(bad)}")
PY
}

echo "== internal topic"
kafka=$("$probe" internal "127.0.0.1:$kafka_port")
kwire=$("$probe" internal "$BOOTSTRAP")
compare internal "$kafka" "$kwire" partitions delete_error listed_after_delete
# Not only equal to Kafka, but what the point of the check is.
python3 -c 'import json,sys; j=json.loads(sys.argv[1]); assert j["listed"] and j["internal"] and j["produce_error"] != 0 and j["delete_error"] != 0 and j["listed_after_delete"], j' "$kwire"

echo "== ApiVersions v5"
kafka=$("$probe" api-versions-v5 "127.0.0.1:$kafka_port")
kwire=$("$probe" api-versions-v5 "$BOOTSTRAP")
compare api_versions_v5 "$kafka" "$kwire"
echo "== advertised versions"
python3 - "$("$probe" versions "127.0.0.1:$kafka_port")" "$("$probe" versions "$BOOTSTRAP")" <<'PY'
import json, sys
kafka, kwire = json.loads(sys.argv[1]), json.loads(sys.argv[2])
bad = []
for api, (lo, hi) in sorted(kwire.items()):
    k = kafka.get(api)
    print(f"  {api}: kwire {lo}-{hi}, kafka {k[0]}-{k[1]}" if k else f"  {api}: kwire {lo}-{hi}, not in Kafka")
    if k is None or hi != k[1] or lo > k[0]:
        bad.append(api)
if bad:
    sys.exit("advertised versions differ from Kafka 4.4's: " + ", ".join(bad))
PY
echo "parity with Kafka: ok"
