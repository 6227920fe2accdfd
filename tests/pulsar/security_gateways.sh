#!/usr/bin/env bash
# Two kwire-brokers on one Pulsar namespace, with SASL (PLAIN and
# SCRAM-SHA-512) and kwire's authorizer: a SCRAM user created, then deleted,
# and an ACL added with Kafka's own tools take effect on the gateway that did
# not serve the change, which was running already (it follows the security
# topic). Kafka's admin client chooses which gateway gets a request, so the
# script reads which one logged the change and checks on the other: a SCRAM
# login bootstraps there (its first connection authenticates there), and the
# ACL is checked with the serving gateway stopped, the other one alone. And a
# transactional producer is refused while two gateways serve the namespace
# without a way to reach each other (no inter-broker listener they can speak:
# PLAINTEXT is not there, and no credentials are given for SASL_PLAINTEXT).
# usage: security_gateways.sh KWIRE_BROKER
set -euo pipefail
broker_bin="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/tests/support/net.sh"
url="${KWIRE_PULSAR_URL:-pulsar://127.0.0.1:6650}"
web="${KWIRE_PULSAR_WEB_URL:-http://127.0.0.1:8080}"
kafka_cli="$root/tools/peers/kafka-cli.sh"
work="$(mktemp -d)"
ns="security-$(date +%s)$RANDOM"
declare -A port pid
cleanup() {
  for n in "${!pid[@]}"; do kill -TERM "${pid[$n]}" 2>/dev/null || true; done
  for n in "${!pid[@]}"; do wait "${pid[$n]}" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$work"/broker-*.log; do echo "== $f" >&2; tail -20 "$f" >&2; done; exit 1; }

start_gateway() {
  local node="$1"
  "$broker_bin" --listeners="SASL_PLAINTEXT://127.0.0.1:${port[$node]}" --log.dirs="$work/data-$node" \
    --node.id="$node" --kwire.storage=pulsar --pulsarServiceUrl="$url" --pulsarWebServiceUrl="$web" \
    --kwire.namespace="$ns" --group.initial.rebalance.delay.ms=0 \
    --sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512 --kwire.sasl.plain.users=admin:admin-secret,alice:alice-secret \
    --authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer '--super.users=User:admin' \
    >>"$work/broker-$node.log" 2>&1 &
  pid[$node]=$!
  wait_listening "${port[$node]}" "${pid[$node]}" 30 || fail "gateway $node did not listen"
}
stop_gateway() { kill -TERM "${pid[$1]}"; wait "${pid[$1]}" || true; unset "pid[$1]"; }
logged() { grep -c "$2" "$work/broker-$1.log" || true; }
# served PATTERN COUNT1 COUNT2 → the gateway whose log has one more PATTERN
# line than it had (COUNT1, COUNT2 before the change)
served() {
  local one two
  one="$(logged 1 "$1")" two="$(logged 2 "$1")"
  if ((one > $2 && two == $3)); then echo 1; elif ((two > $3 && one == $2)); then echo 2; else
    fail "no single gateway logged '$1' ($one, $two)"
  fi
}
other() { echo $((3 - $1)); }

cat >"$work/admin.properties" <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret";
PROPS
cat >"$work/carol.properties" <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="carol" password="carol-secret";
PROPS
admin() { "$kafka_cli" "$1" --bootstrap-server "127.0.0.1:${port[1]}" --command-config "$work/admin.properties" "${@:2}"; }
# carol_login NODE: lists topics as carol, bootstrapping at that gateway only
carol_login() {
  "$kafka_cli" kafka-topics --bootstrap-server "127.0.0.1:${port[$1]}" --command-config "$work/carol.properties" \
    --list >"$work/carol.out" 2>&1
}
clients() { java -cp "$("$root/tools/peers/kafka-classpath.sh")" "$root/tests/interop/java/AclClients.java" "$@"; }

port[1]="$(free_port)"
port[2]="$(free_port)"
start_gateway 1
start_gateway 2
for _ in $(seq 1 100); do
  grep -q 'gateways now: 1, 2' "$work/broker-1.log" && grep -q 'gateways now: 1, 2' "$work/broker-2.log" && break
  sleep 0.2
done
grep -q 'gateways now: 1, 2' "$work/broker-2.log" || fail "the gateways did not see each other"

admin kafka-topics --create --topic orders --partitions 1
clients "127.0.0.1:${port[1]}" admin,admin-secret,produce,orders,10

echo "== transactions refused while two gateways serve the namespace and cannot reach each other"
py="$("$root/tools/peers/python-env.sh")"
if "$py" - "127.0.0.1:${port[1]}" >"$work/txn.out" 2>&1 <<'PY'; then
import sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
              "sasl.username": "admin", "sasl.password": "admin-secret", "transactional.id": "two-gateways"})
p.init_transactions(10)
PY
  fail "a transactional producer started with two gateways on the namespace"
fi
grep -q "COORDINATOR_NOT_AVAILABLE\|_TIMED_OUT" "$work/txn.out" || fail "init_transactions: $(tail -3 "$work/txn.out")"
echo "refused: $(grep -o "KafkaError.*" "$work/txn.out" | head -1)"

echo "== before: carol has no credential, alice no ACL"
carol_login 2 && fail "carol logged in before she had a credential"
grep -q "SaslAuthenticationException\|Authentication failed" "$work/carol.out" || fail "carol: $(tail -5 "$work/carol.out")"
clients "127.0.0.1:${port[2]}" alice,alice-secret,topic-denied,orders alice,alice-secret,hidden,orders

echo "== a SCRAM user created through one gateway logs in at the other"
c1="$(logged 1 'changed the SCRAM credentials of carol')" c2="$(logged 2 'changed the SCRAM credentials of carol')"
admin kafka-configs --alter --add-config 'SCRAM-SHA-512=[iterations=8192,password=carol-secret]' \
  --entity-type users --entity-name carol
w="$(served 'changed the SCRAM credentials of carol' "$c1" "$c2")"
o="$(other "$w")"
echo "gateway $w stored carol; logging in at gateway $o"
ok=""
for _ in $(seq 1 20); do
  if carol_login "$o"; then ok=1; break; fi  # Pulsar delivers the change shortly
  sleep 0.5
done
[[ -n "$ok" ]] || fail "carol cannot log in at gateway $o: $(tail -5 "$work/carol.out")"

echo "== deleted through one gateway, refused at the other"
c1="$(logged 1 'changed the SCRAM credentials of carol')" c2="$(logged 2 'changed the SCRAM credentials of carol')"
admin kafka-configs --alter --delete-config SCRAM-SHA-512 --entity-type users --entity-name carol
w="$(served 'changed the SCRAM credentials of carol' "$c1" "$c2")"
o="$(other "$w")"
echo "gateway $w deleted carol; logging in at gateway $o"
ok=""
for _ in $(seq 1 20); do
  if ! carol_login "$o"; then ok=1; break; fi
  sleep 0.5
done
[[ -n "$ok" ]] || fail "carol still logs in at gateway $o after her deletion"
grep -q "SaslAuthenticationException\|Authentication failed" "$work/carol.out" || fail "carol: $(tail -5 "$work/carol.out")"

echo "== an ACL added through one gateway decides on the other, alone"
c1="$(logged 1 'added 1 ACL binding')" c2="$(logged 2 'added 1 ACL binding')"
admin kafka-acls --add --allow-principal User:alice --operation Read --topic orders
w="$(served 'added 1 ACL binding' "$c1" "$c2")"
o="$(other "$w")"
echo "gateway $w stored the bindings; stopping it, asking gateway $o"
stop_gateway "$w"
for _ in $(seq 1 50); do
  grep -q "gateways now: $o\$" "$work/broker-$o.log" && break
  sleep 0.2
done
clients "127.0.0.1:${port[$o]}" alice,alice-secret,sees,orders alice,alice-secret,produce-denied,orders
echo "OK"
