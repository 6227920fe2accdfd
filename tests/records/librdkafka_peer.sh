#!/usr/bin/env bash
# librdkafka (confluent-kafka from PyPI) produces with every codec to a real
# Kafka 4.4.0 broker on loopback; the broker stores the producer's batches
# as they came (only baseOffset and the leader epoch, outside the CRC, are
# set). kwire then reads the partition's log segments: every batch must pass
# its CRC, decode to the records sent, and rebuild identically.
set -euo pipefail
exe=$1 work=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work"
mkdir -p "$work"
port=$("$root/tests/support/free_port.py")
py=$("$root/tools/peers/python-env.sh")
"$root/tools/peers/kafka-server.sh" start "$port" "$work/kafka"
stopped=0
stop() { if [[ $stopped == 0 ]]; then stopped=1; "$root/tools/peers/kafka-server.sh" stop "$port" "$work/kafka" || true; fi; }
trap stop EXIT
"$py" "$(dirname "$0")/librdkafka_produce.py" "127.0.0.1:$port" "$work/expected.json"
# A clean shutdown flushes the segments to disk.
stop
"$exe" "$work/kafka/data" "$work/expected.json"
