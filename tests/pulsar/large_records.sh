#!/usr/bin/env bash
# Records too large for Pulsar, and writes Pulsar cannot persist, through
# kwire-broker on a standalone of its own (each step can leave a broken
# standalone behind when it fails):
#   limits  max.message.bytes reports what Pulsar stores; a 5 MiB record is
#           refused with MESSAGE_TOO_LARGE (or stored and read back), never
#           acknowledged and lost; one just under the limit is read back; the
#           bookie never saw a frame past its limit; other topics are served
#   fault   the namespace's ledgers need two bookies (there is one): no
#           produce is acknowledged before Pulsar stored it, every
#           acknowledged record reads back once the fault is lifted, and
#           other topics are served afterwards
# usage: large_records.sh KWIRE_BROKER
set -euo pipefail
broker_bin="$1"
source "$(dirname "${BASH_SOURCE[0]}")/own_standalone.sh" LARGE 26654 28084 23185

python="$(bash "$root/tools/peers/python-env.sh")"
"$root/tools/pulsar/pulsar-standalone.sh" start "$work/pulsar" >/dev/null
# The standalone creates its cluster and the tenant "public" just after it
# starts serving.
for _ in $(seq 1 120); do
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "$web/admin/v2/tenants/public")" == 200 ]] && break
  sleep 0.5
done

ns="large"
port="$(free_port)"
metrics_port="$(free_port)"
"$broker_bin" --listeners="PLAINTEXT://127.0.0.1:$port" --log.dirs="$work/data" --kwire.storage=pulsar \
  --pulsarServiceUrl="$url" --pulsarWebServiceUrl="$web" --kwire.namespace="$ns" \
  --kwire.metrics.listener="127.0.0.1:$metrics_port" --group.initial.rebalance.delay.ms=0 >"$work/broker.log" 2>&1 &
pid=$!
wait_listening "$port" "$pid" 60 || fail "kwire-broker did not listen"
wait_listening "$metrics_port" "$pid" 10 || fail "kwire-broker's metrics did not listen"

for step in limits fault; do
  echo "== $step"
  "$python" "$here/large_records.py" "127.0.0.1:$port" "$web" "public/$ns" "127.0.0.1:$metrics_port" "$step" || fail "step $step"
done
if grep -q "TooLongFrameException" "$work/pulsar/pulsar.log"; then
  grep -m3 "TooLongFrameException" "$work/pulsar/pulsar.log" >&2
  fail "a frame past the bookie's limit reached it"
fi
echo "large records and write failures: ok"
