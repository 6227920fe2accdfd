#!/usr/bin/env bash
# Real Kafka traffic through kwire-decode. A real Apache Kafka 4.4.0 advertises
# a capturing proxy as its listener, so every client connection (and the
# broker's connections to itself: transaction markers, share-group state) goes
# through the proxy, which writes each direction of each connection to a file.
# Kafka's own CLI tools, librdkafka (confluent-kafka), kafka-python and kafkajs
# create topics, produce under every codec, consume in classic, KIP-848 and
# share groups, and look at groups, configs, partitions, log dirs,
# transactions and the metadata quorum. Then every connection must decode with
# `kwire-decode --records --roundtrip` (requests, their responses by
# correlation id, every record set, every frame re-encoded byte for byte), and
# check_capture.py checks that the records the clients produced are there, in
# Produce requests and Fetch (and ShareFetch) responses, with the codecs they
# were sent with, and that a broad set of APIs was seen.
# kwire-decode runs with --allow-trailing-bytes because librdkafka pads one
# request with bytes the broker ignores; check_capture.py accepts exactly that
# case and fails on bytes after any other body.
#
#   real_kafka_traffic.sh <kwire-decode> <work dir>
set -euo pipefail
decode=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
peers=$root/tools/peers

rm -rf "$work"
mkdir -p "$work/capture" "$work/decoded"
free_port() { "$root/tests/support/free_port.py"; }
step() { echo "== $*"; }

py=$("$peers/python-env.sh")
kafka_port=$(free_port)

proxy_pid=""
kafka_started=0
cleanup() {
  if [[ $kafka_started == 1 ]]; then
    kafka_started=0
    "$peers/kafka-server.sh" stop "$kafka_port" "$work/kafka" || true
  fi
  if [[ -n $proxy_pid ]]; then
    kill -TERM "$proxy_pid" 2>/dev/null || true
    wait "$proxy_pid" 2>/dev/null || true
    proxy_pid=""
  fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

step "capturing proxy in front of 127.0.0.1:$kafka_port"
python3 "$here/capture_proxy.py" --target "127.0.0.1:$kafka_port" --dir "$work/capture" \
  --port-file "$work/proxy.port" >"$work/proxy.out" 2>&1 &
proxy_pid=$!
for _ in $(seq 100); do [[ -s $work/proxy.port ]] && break; sleep 0.1; done
[[ -s $work/proxy.port ]] || { cat "$work/proxy.out"; echo "the proxy did not start" >&2; exit 1; }
proxy_port=$(cat "$work/proxy.port")
bootstrap=127.0.0.1:$proxy_port

step "Kafka 4.4.0 on 127.0.0.1:$kafka_port, advertising the proxy at $bootstrap"
kafka_started=1
KWIRE_KAFKA_CONFIG="advertised.listeners=PLAINTEXT://$bootstrap" \
  "$peers/kafka-server.sh" start "$kafka_port" "$work/kafka"

cli() { "$peers/kafka-cli.sh" "$@"; }
codecs=(none gzip snappy lz4 zstd)
n_cli=30
python3 "$here/cli_records.py" "$work" "$work/expected.json" "$n_cli" "${codecs[@]}"

step "Kafka CLI tools"
for c in "${codecs[@]}"; do
  cli kafka-topics --bootstrap-server "$bootstrap" --create --topic "cli-$c" --partitions 2 --replication-factor 1
done
cli kafka-topics --bootstrap-server "$bootstrap" --describe --topic cli-none
cli kafka-topics --bootstrap-server "$bootstrap" --list >"$work/topics.txt"
for c in "${codecs[@]}"; do
  grep -qx "cli-$c" "$work/topics.txt" || { echo "kafka-topics --list misses cli-$c" >&2; exit 1; }
  cli kafka-console-producer --bootstrap-server "$bootstrap" --topic "cli-$c" --compression-codec "$c" \
    --reader-property parse.key=true --reader-property parse.headers=true <"$work/cli-$c.in"
done
total=$((n_cli * ${#codecs[@]}))
cut -f3 "$work"/cli-*.in | sort >"$work/cli-values.txt"
for group in cli-group cli-group-848; do
  protocol=classic
  [[ $group == cli-group-848 ]] && protocol=consumer
  cli kafka-console-consumer --bootstrap-server "$bootstrap" --include 'cli-.*' --group "$group" \
    --command-property "group.protocol=$protocol" --from-beginning --max-messages "$total" --timeout-ms 60000 \
    --formatter-property print.key=true >"$work/$group.out"
  cut -f2 "$work/$group.out" | sort | diff -q - "$work/cli-values.txt" >/dev/null \
    || { echo "kafka-console-consumer ($group) did not read back what was produced" >&2; exit 1; }
  cli kafka-consumer-groups --bootstrap-server "$bootstrap" --describe --group "$group"
done
cli kafka-consumer-groups --bootstrap-server "$bootstrap" --list

step "librdkafka (confluent-kafka)"
"$py" "$here/librdkafka_clients.py" "$bootstrap" "$work/expected.json"

step "Kafka CLI tools: configs, partitions, log dirs, quorum, transactions, share group"
cli kafka-configs --bootstrap-server "$bootstrap" --alter --entity-type topics --entity-name cli-none \
  --add-config retention.ms=604800000
cli kafka-configs --bootstrap-server "$bootstrap" --describe --entity-type topics --entity-name cli-none
cli kafka-topics --bootstrap-server "$bootstrap" --alter --topic cli-none --partitions 3
cli kafka-log-dirs --bootstrap-server "$bootstrap" --describe --topic-list cli-none >/dev/null
cli kafka-metadata-quorum --bootstrap-server "$bootstrap" describe --status
cli kafka-transactions --bootstrap-server "$bootstrap" list
# A share group (KIP-932) reading cli-none from the start.
cli kafka-configs --bootstrap-server "$bootstrap" --alter --entity-type groups --entity-name cli-share \
  --add-config share.auto.offset.reset=earliest
cli kafka-console-share-consumer --bootstrap-server "$bootstrap" --topic cli-none --group cli-share \
  --max-messages "$n_cli" --timeout-ms 60000 >"$work/cli-share.out"
grep -c . "$work/cli-share.out" | grep -qx "$n_cli" \
  || { echo "kafka-console-share-consumer did not read the $n_cli records of cli-none" >&2; exit 1; }
cli kafka-share-groups --bootstrap-server "$bootstrap" --describe --group cli-share

step "kafka-python"
"$py" "$here/kafka_python_clients.py" "$bootstrap" "$work/expected.json"

step "kafkajs"
NODE_PATH="$("$peers/node-env.sh")/node_modules" node "$here/kafkajs_clients.js" "$bootstrap" "$work/expected.json"

step "stopping Kafka and the proxy"
cleanup

step "kwire-decode --records --roundtrip on every connection"
failed=0
count=0
for c2s in "$work"/capture/conn-*.c2s; do
  conn=$(basename "$c2s" .c2s)
  count=$((count + 1))
  rc=0
  "$decode" --records --roundtrip --allow-trailing-bytes "$c2s" --responses "${c2s%.c2s}.s2c" >"$work/decoded/$conn.json" \
    2>"$work/decoded/$conn.err" || rc=$?
  if ((rc != 0)); then
    failed=$((failed + 1))
    echo "FAILED: $conn (kwire-decode exit $rc)" >&2
    cat "$work/decoded/$conn.err" >&2
    # The failing frames, without their (possibly large) bodies.
    python3 - "$work/decoded/$conn.json" >&2 <<'PY'
import json, sys
def record_errors(node):
    if isinstance(node, dict):
        if isinstance(node.get("Records"), dict) and "error" in node["Records"]:
            yield node["Records"]["error"]
        for v in node.values():
            yield from record_errors(v)
    elif isinstance(node, list):
        for v in node:
            yield from record_errors(v)
for line in open(sys.argv[1]):
    j = json.loads(line)
    errors = list(record_errors(j.pop("body", None)))
    if "error" in j or j.get("roundtrip") is False or errors:
        if errors:
            j["recordSetErrors"] = errors
        print("   ", json.dumps(j))
PY
  fi
done
echo "$count connections captured, $failed failed to decode"
((count > 0)) || { echo "nothing was captured" >&2; exit 1; }

step "checking the decoded traffic"
python3 "$here/check_capture.py" "$work/decoded" "$work/expected.json" cli-none || failed=$((failed + 1))
((failed == 0))
