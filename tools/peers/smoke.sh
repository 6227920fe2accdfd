#!/usr/bin/env bash
# Checks the peers end to end: starts a real Kafka 4.4.0 on a free loopback
# port, has Kafka's console tools, librdkafka (confluent-kafka), kafka-python,
# kafkajs and franz-go each produce a record and read it back, then stops the
# broker. Prints "N passed, N failed".
#   tools/peers/smoke.sh [WORK_DIR]
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

work="${1:-$KWIRE_PEERS_DIR/smoke}"
rm -rf "$work" && mkdir -p "$work"
port="$("$(dirname "${BASH_SOURCE[0]}")/../../tests/support/free_port.py")"
bootstrap="127.0.0.1:$port"
passed=0 failed=0
check() {
  local name="$1"; shift
  if "$@" >"$work/$name.log" 2>&1; then
    echo "ok   $name"; passed=$((passed + 1))
  else
    echo "FAIL $name (see $work/$name.log)"; tail -n 5 "$work/$name.log"; failed=$((failed + 1))
  fi
}

py="$("$KWIRE_PEERS_TOOLS/python-env.sh")" || peers_die "python-env.sh failed"
node_dir="$("$KWIRE_PEERS_TOOLS/node-env.sh")" || peers_die "node-env.sh failed"
"$KWIRE_PEERS_TOOLS/go-env.sh" build "$KWIRE_PEERS_TOOLS/go/check" "$work/go-check" || peers_die "go-env.sh failed"

"$KWIRE_PEERS_TOOLS/kafka-server.sh" start "$port" "$work/kafka" || exit 1
trap '"$KWIRE_PEERS_TOOLS/kafka-server.sh" stop "$port" "$work/kafka"' EXIT

cli() {
  "$KWIRE_PEERS_TOOLS/kafka-cli.sh" kafka-topics --bootstrap-server "$bootstrap" --create --topic smoke-cli --partitions 1 &&
  echo "hello from the console producer" |
    "$KWIRE_PEERS_TOOLS/kafka-cli.sh" kafka-console-producer --bootstrap-server "$bootstrap" --topic smoke-cli &&
  "$KWIRE_PEERS_TOOLS/kafka-cli.sh" kafka-console-consumer --bootstrap-server "$bootstrap" --topic smoke-cli \
    --from-beginning --max-messages 1 --timeout-ms 30000 | grep -q "hello from the console producer"
}

librdkafka() {
  "$py" - "$bootstrap" <<'PY'
import sys
from confluent_kafka import Consumer, Producer
bootstrap = sys.argv[1]
p = Producer({"bootstrap.servers": bootstrap})
p.produce("smoke-librdkafka", b"hello from librdkafka")
assert p.flush(30) == 0
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "smoke-librdkafka", "auto.offset.reset": "earliest"})
c.subscribe(["smoke-librdkafka"])
for _ in range(60):
    m = c.poll(1.0)
    if m is not None and m.error() is None and m.value() == b"hello from librdkafka":
        break
else:
    sys.exit("no record")
c.close()
PY
}

kafka_python() {
  "$py" - "$bootstrap" <<'PY'
import sys
from kafka import KafkaConsumer, KafkaProducer
bootstrap = sys.argv[1]
p = KafkaProducer(bootstrap_servers=bootstrap)
p.send("smoke-kafka-python", b"hello from kafka-python").get(timeout=30)
p.close()
c = KafkaConsumer("smoke-kafka-python", bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                  consumer_timeout_ms=30000)
assert any(m.value == b"hello from kafka-python" for m in c), "no record"
c.close()
PY
}

kafkajs() {
  (cd "$node_dir" && BOOTSTRAP="$bootstrap" KAFKAJS_NO_PARTITIONER_WARNING=1 node -e '
const { Kafka, logLevel } = require("kafkajs");
const kafka = new Kafka({ brokers: [process.env.BOOTSTRAP], logLevel: logLevel.ERROR });
(async () => {
  const admin = kafka.admin(); await admin.connect();
  await admin.createTopics({ topics: [{ topic: "smoke-kafkajs", numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const p = kafka.producer(); await p.connect();
  await p.send({ topic: "smoke-kafkajs", messages: [{ value: "hello from kafkajs" }] });
  await p.disconnect();
  const c = kafka.consumer({ groupId: "smoke-kafkajs" }); await c.connect();
  await c.subscribe({ topic: "smoke-kafkajs", fromBeginning: true });
  let done;
  const got = new Promise((resolve) => { done = resolve; });
  const timer = setTimeout(() => { console.error("no record"); process.exit(1); }, 60000);
  await c.run({ eachMessage: async ({ message }) => {
    if (message.value.toString() === "hello from kafkajs") done();
  } });
  await got;
  clearTimeout(timer);
  await c.disconnect();
})().catch((e) => { console.error(e); process.exit(1); });
')
}

check kafka-cli cli
check librdkafka librdkafka
check kafka-python kafka_python
check kafkajs kafkajs
check franz-go "$work/go-check" -brokers "$bootstrap" -topic smoke-franz-go

echo "peers smoke: $passed passed, $failed failed"
((failed == 0))
