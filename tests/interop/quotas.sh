#!/usr/bin/env bash
# Client quotas (KIP-546) with Kafka's kafka-configs: quotas of users, client
# ids, user and client id pairs, their defaults and IPs altered, described and
# deleted; Kafka's refusals; the values outlive a restart. Then enforced: Kafka's
# Java producer and consumer over their byte rate quotas are throttled, as
# their produce-throttle-time-max and fetch-throttle-time-max metrics say,
# while a producer under no quota is not.
source "$(dirname "$0")/lib.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

# Short windows (two samples of one second): a client over its quota waits
# at most two seconds at a time, so the throttled runs stay short.
start_broker --quota.window.num=2 --quota.window.size.seconds=1
configs() { kafka_cli kafka-configs --bootstrap-server "$BOOTSTRAP" "$@"; }
expect() {  # expect WHAT TEXT PATTERN...
  local what="$1" text="$2"
  shift 2
  for p in "$@"; do grep -q -- "$p" <<<"$text" || fail "$what: no '$p' in: $text"; done
}

configs --alter --entity-type users --entity-name alice --add-config 'producer_byte_rate=1024,consumer_byte_rate=2048'
configs --alter --entity-type users --entity-name alice --entity-type clients --entity-name app \
  --add-config 'producer_byte_rate=4096'
configs --alter --entity-type users --entity-default --add-config 'controller_mutation_rate=10'
configs --alter --entity-type clients --entity-default --add-config 'request_percentage=50'
configs --alter --entity-type ips --entity-name 127.0.0.1 --add-config 'connection_creation_rate=100'

check_stored() {
  expect "alice" "$(configs --describe --entity-type users --entity-name alice)" \
    "producer_byte_rate=1024" "consumer_byte_rate=2048"
  expect "alice/app" "$(configs --describe --entity-type users --entity-name alice --entity-type clients --entity-name app)" \
    "producer_byte_rate=4096"
  expect "the default user" "$(configs --describe --entity-type users --entity-default)" "controller_mutation_rate=10"
  expect "the default client id" "$(configs --describe --entity-type clients --entity-default)" "request_percentage=50"
  expect "the IP" "$(configs --describe --entity-type ips --entity-name 127.0.0.1)" "connection_creation_rate=100"
  expect "every user" "$(configs --describe --entity-type users)" "'alice'" "default user"
}
check_stored

# Kafka's refusals reach the tool.
if out="$(configs --alter --entity-type users --entity-name alice --add-config 'producer_byte_rate=1.5' 2>&1)"; then
  fail "a fractional byte rate was accepted: $out"
fi
expect "fractional" "$out" "InvalidRequestException" "producer_byte_rate cannot be a fractional value"
if out="$(configs --alter --entity-type clients --entity-name app --add-config 'consumer_byte_rate=0' 2>&1)"; then
  fail "a byte rate of 0 was accepted: $out"
fi
expect "zero" "$out" "InvalidRequestException" "Quota consumer_byte_rate must be greater than 0"

# Deleting one value leaves the others; the restart keeps what is left.
configs --alter --entity-type users --entity-name alice --delete-config consumer_byte_rate
desc="$(configs --describe --entity-type users --entity-name alice)"
grep -q "consumer_byte_rate" <<<"$desc" && fail "consumer_byte_rate not deleted: $desc"
configs --alter --entity-type users --entity-name alice --add-config 'consumer_byte_rate=2048'
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" || true
restart_broker
check_stored

# Enforcement. The Java client records the throttle time of every response;
# its maximum over the run is above 0 only if the broker throttled it.
kafka_cli kafka-topics --bootstrap-server "$BOOTSTRAP" --create --topic q --partitions 1
configs --alter --entity-type clients --entity-name throttled-producer --add-config 'producer_byte_rate=4096'
configs --alter --entity-type clients --entity-name throttled-consumer --add-config 'consumer_byte_rate=8192'
metric() {  # metric NAME CLIENT_ID OUTPUT: the value --print-metrics shows
  awk -v m="$1" -v c="client-id=$2" '$0 ~ m && index($0, c) { v = $NF } END { print v }' <<<"$3"
}
produce() {
  kafka_cli producer-perf-test --topic q --num-records 20 --record-size 1000 --throughput -1 --print-metrics \
    --producer-props bootstrap.servers="$BOOTSTRAP" client.id="$1" acks=1
}
out="$(produce throttled-producer)"
throttle="$(metric "produce-throttle-time-max" throttled-producer "$out")"
echo "throttled producer: produce-throttle-time-max $throttle"
awk -v t="$throttle" 'BEGIN { exit !(t + 0 > 0) }' || fail "the producer over its quota was not throttled: $out"
out="$(produce free-producer)"
throttle="$(metric "produce-throttle-time-max" free-producer "$out")"
echo "free producer: produce-throttle-time-max $throttle"
[[ -n "$throttle" ]] || fail "no produce-throttle-time-max for the free producer: $out"
awk -v t="$throttle" 'BEGIN { exit !(t + 0 == 0) }' || fail "a producer without a quota was throttled: $out"

cat >"$WORK/consumer.properties" <<PROPS
client.id=throttled-consumer
PROPS
out="$(kafka_cli consumer-perf-test --bootstrap-server "$BOOTSTRAP" --topic q --messages 40 --print-metrics \
  --group quota-g --command-config "$WORK/consumer.properties" --timeout 60000)"
throttle="$(metric "fetch-throttle-time-max" throttled-consumer "$out")"
echo "throttled consumer: fetch-throttle-time-max $throttle"
awk -v t="$throttle" 'BEGIN { exit !(t + 0 > 0) }' || fail "the consumer over its quota was not throttled: $out"
echo "OK"
