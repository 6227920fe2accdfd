#!/usr/bin/env bash
# kwire-broker on Pulsar: SASL users named tenant/namespace write into that
# Pulsar tenant and namespace, and see nothing of the others.
# usage: tenants.sh KWIRE_BROKER
set -euo pipefail
broker_bin="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$root/tests/support/net.sh"
url="${KWIRE_PULSAR_URL:-pulsar://127.0.0.1:6650}"
web="${KWIRE_PULSAR_WEB_URL:-http://127.0.0.1:8080}"
work="$(mktemp -d)"
pid=""
cleanup() {
  [[ -n "$pid" ]] && { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -30 "$work/broker.log" >&2; exit 1; }
port="$(free_port)"
run="$(date +%s)$RANDOM"
"$broker_bin" --listeners="SASL_PLAINTEXT://127.0.0.1:$port" --log.dirs="$work/data" \
  --kwire.storage=pulsar --pulsarServiceUrl="$url" --pulsarWebServiceUrl="$web" --kwire.namespace="own$run" \
  --auto.create.topics.enable=true \
  "--listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"alice-secret\" user_t1/ns1=\"s1\" user_t2/ns2=\"s2\";" \
  >"$work/broker.log" 2>&1 &
pid=$!
wait_listening "$port" "$pid" || fail "kwire-broker did not listen: $(tail -3 "$work/broker.log")"
py="$("$root/tools/peers/python-env.sh")"
out="$("$py" "$root/tests/interop/python/clients.py" tenants "127.0.0.1:$port")" || fail "tenant clients: $out"
echo "$out"
topic="$(sed -n "s/.*their own '\([^']*\)'.*/\1/p" <<<"$out")"
[[ -n "$topic" ]] || fail "no topic name in: $out"
topics_in() { curl -sf "$web/admin/v2/persistent/$1/partitioned"; }
python3 - "$topic" "$(topics_in t1/ns1)" "$(topics_in t2/ns2)" <<'PY'
import json, sys
topic, t1, t2 = sys.argv[1], set(json.loads(sys.argv[2])), set(json.loads(sys.argv[3]))
assert f"persistent://t1/ns1/{topic}" in t1, t1
assert f"persistent://t2/ns2/{topic}" in t2 and f"persistent://t2/ns2/{topic}-t2only" in t2, t2
assert f"persistent://t1/ns1/{topic}-t2only" not in t1, t1
print("Pulsar holds each tenant's topics in its own tenant/namespace")
PY
