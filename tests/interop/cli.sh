#!/usr/bin/env bash
# Apache Kafka's own command-line tools against kwire-broker: kafka-topics,
# kafka-console-producer/-consumer and kafka-consumer-groups (lag).
source "$(dirname "$0")/lib.sh"
start_broker

fail() { echo "FAIL: $*" >&2; exit 1; }

kafka_cli kafka-topics --bootstrap-server "$BOOTSTRAP" --create --topic cli-t --partitions 2
kafka_cli kafka-topics --bootstrap-server "$BOOTSTRAP" --list | grep -qx cli-t || fail "cli-t not listed"
desc="$(kafka_cli kafka-topics --bootstrap-server "$BOOTSTRAP" --describe --topic cli-t)"
echo "$desc"
grep -q "PartitionCount: 2" <<<"$desc" || fail "describe: $desc"
if kafka_cli kafka-topics --bootstrap-server "$BOOTSTRAP" --create --topic cli-t --partitions 2 2>"$WORK/err"; then
  fail "creating cli-t twice succeeded"
fi
grep -q "already exists" "$WORK/err" || fail "no 'already exists' error: $(cat "$WORK/err")"

for i in $(seq 1 10); do echo "key$i:value$i"; done |
  kafka_cli kafka-console-producer --bootstrap-server "$BOOTSTRAP" --topic cli-t \
    --property parse.key=true --property key.separator=:

out="$(kafka_cli kafka-console-consumer --bootstrap-server "$BOOTSTRAP" --topic cli-t --group cli-g \
  --from-beginning --max-messages 10 --timeout-ms 30000 --property print.key=true --property key.separator=: 2>/dev/null)"
echo "$out"
[[ "$(grep -c '^key[0-9]*:value[0-9]*$' <<<"$out")" == 10 ]] || fail "consumed: $out"
for i in $(seq 1 10); do grep -qx "key$i:value$i" <<<"$out" || fail "missing key$i"; done

for i in $(seq 11 15); do echo "key$i:value$i"; done |
  kafka_cli kafka-console-producer --bootstrap-server "$BOOTSTRAP" --topic cli-t \
    --property parse.key=true --property key.separator=:

groups="$(kafka_cli kafka-consumer-groups --bootstrap-server "$BOOTSTRAP" --describe --group cli-g)"
echo "$groups"
read -r current end lag < <(awk '$1 == "cli-g" && $2 == "cli-t" { c += $4; e += $5; l += $6 } END { print c, e, l }' <<<"$groups")
[[ "$current" == 10 && "$end" == 15 && "$lag" == 5 ]] || fail "current=$current end=$end lag=$lag"
kafka_cli kafka-consumer-groups --bootstrap-server "$BOOTSTRAP" --list | grep -qx cli-g || fail "cli-g not listed"

kafka_cli kafka-topics --bootstrap-server "$BOOTSTRAP" --delete --topic cli-t
if kafka_cli kafka-topics --bootstrap-server "$BOOTSTRAP" --list | grep -qx cli-t; then fail "cli-t still listed"; fi
echo "OK cli"
