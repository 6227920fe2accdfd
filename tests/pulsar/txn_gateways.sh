#!/usr/bin/env bash
# Kafka transactions across two kwire-brokers on one Pulsar namespace, with
# Kafka's Java client (Transactions.java, scenario across-gateways): the
# transaction's coordinator is not the group's, and the output topic's
# partitions are led by both gateways, so markers, the check of each first
# write and the transaction's offsets go from one gateway to the other.
#   txn_gateways.sh KWIRE_BROKER across   both gateways throughout
#   txn_gateways.sh KWIRE_BROKER handoff  halfway, the transaction's
#       coordinator is killed (kill -9); the other gateway takes its
#       transactional ids, groups and partitions over, and the producer goes
#       on there: every record still moved exactly once
#   txn_gateways.sh KWIRE_BROKER sasl     as `across`, on SASL_PLAINTEXT
#       listeners with kwire's authorizer: the gateways log in to each other
#       with SCRAM-SHA-512 as a user created once both run (a super user, as
#       Kafka's brokers are), the clients with PLAIN
set -euo pipefail
broker_bin="$1"
mode="$2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/tests/support/net.sh"
url="${KWIRE_PULSAR_URL:-pulsar://127.0.0.1:6650}"
web="${KWIRE_PULSAR_WEB_URL:-http://127.0.0.1:8080}"
work="$(mktemp -d)"
ns="txn-gateways-$(date +%s)$RANDOM"
declare -A port pid
cleanup() {
  for n in "${!pid[@]}"; do kill -TERM "${pid[$n]}" 2>/dev/null || true; done
  for n in "${!pid[@]}"; do wait "${pid[$n]}" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$work"/broker-*.log; do echo "== $f" >&2; tail -30 "$f" >&2; done; exit 1; }

security=()
if [[ "$mode" == sasl ]]; then
  security=(--sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512 --kwire.sasl.plain.users=admin:admin-secret
    --authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer '--super.users=User:admin;User:gateway'
    --inter.broker.listener.name=SASL_PLAINTEXT --sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
    '--listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="gateway" password="gateway-secret";')
  cat >"$work/client.properties" <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret";
PROPS
fi
start_gateway() {
  local node="$1" listener=PLAINTEXT
  [[ "$mode" == sasl ]] && listener=SASL_PLAINTEXT
  "$broker_bin" --listeners="$listener://127.0.0.1:${port[$node]}" --log.dirs="$work/data-$node" \
    --node.id="$node" --kwire.storage=pulsar --pulsarServiceUrl="$url" --pulsarWebServiceUrl="$web" \
    --kwire.namespace="$ns" --group.initial.rebalance.delay.ms=0 \
    --transaction.abort.timed.out.transaction.cleanup.interval.ms=1000 "${security[@]}" \
    >>"$work/broker-$node.log" 2>&1 &
  pid[$node]=$!
  wait_listening "${port[$node]}" "${pid[$node]}" 30 || fail "gateway $node did not listen"
}
# until_logged NODE PATTERN: waits (30 s at most) for the gateway to log it
until_logged() {
  for _ in $(seq 1 150); do
    grep -q "$2" "$work/broker-$1.log" && return 0
    sleep 0.2
  done
  fail "gateway $1 did not log '$2'"
}

port[1]="$(free_port)"
port[2]="$(free_port)"
start_gateway 1
start_gateway 2
until_logged 1 'gateways now: 1, 2'
until_logged 2 'gateways now: 1, 2'

config=()
[[ "$mode" == sasl ]] && config=("-Dclient.config=$work/client.properties")
java_txn() {
  java -cp "$("$root/tools/peers/kafka-classpath.sh")" "${config[@]}" "$root/tests/interop/java/Transactions.java" \
    "127.0.0.1:${port[1]},127.0.0.1:${port[2]}" across-gateways "$@"
}
case "$mode" in
  sasl)
    # The gateways' own user, which they log in to each other as.
    "$root/tools/peers/kafka-cli.sh" kafka-configs --bootstrap-server "127.0.0.1:${port[1]}" \
      --command-config "$work/client.properties" --alter \
      --add-config 'SCRAM-SHA-512=[iterations=8192,password=gateway-secret]' --entity-type users --entity-name gateway
    java_txn || fail "the transactions across gateways failed"
    ;;
  across)
    java_txn || fail "the transactions across gateways failed"
    ;;
  handoff)
    java_txn "$work/handoff" &
    app=$!
    for _ in $(seq 1 600); do
      [[ -s "$work/handoff" ]] && break
      kill -0 "$app" 2>/dev/null || break
      sleep 0.2
    done
    [[ -s "$work/handoff" ]] || { wait "$app" || true; fail "the application did not reach the hand-off"; }
    victim="$(cat "$work/handoff")"
    survivor=$((3 - victim))
    loaded_before="$(grep -c 'transaction coordinator: shard .* loaded' "$work/broker-$survivor.log" || true)"
    echo "== killing gateway $victim, the transaction's coordinator"
    kill -KILL "${pid[$victim]}"
    wait "${pid[$victim]}" 2>/dev/null || true
    unset "pid[$victim]"
    until_logged "$survivor" "gateways now: $survivor\$"
    touch "$work/handoff.done"
    wait "$app" || fail "the transactions failed across the hand-off"
    loaded="$(grep -c 'transaction coordinator: shard .* loaded' "$work/broker-$survivor.log" || true)"
    ((loaded > loaded_before)) || fail "gateway $survivor took no shard of transactional ids over"
    ;;
  *) fail "unknown mode $mode" ;;
esac
echo "OK $mode"
