#!/usr/bin/env bash
# Token authentication: a Pulsar standalone that requires JWTs (HS256), its
# own instance on other ports; kwire-broker given a token produces and
# consumes through it, and a client with a token signed by another key is
# refused.
# usage: token_auth.sh KWIRE_BROKER KWIRE_PULSAR_CLI
set -euo pipefail
broker_bin="$1"
cli="$2"
source "$(dirname "${BASH_SOURCE[0]}")/own_standalone.sh" TOKEN 26652 28082 23183

# HS256 JWT for subject $2 signed with the key in file $1.
jwt() {
  python3 - "$1" "$2" <<'PY'
import base64, hashlib, hmac, json, sys
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
key = open(sys.argv[1], "rb").read()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps({"sub": sys.argv[2]}).encode())
sig = b64(hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
}
head -c 32 /dev/urandom >"$work/secret.key"
head -c 32 /dev/urandom >"$work/other.key"
token="$(jwt "$work/secret.key" admin)"
forged="$(jwt "$work/other.key" admin)"
export PULSAR_AUTH_TOKEN_SECRET_FILE="$work/secret.key" PULSAR_ADMIN_TOKEN="$token"
"$root/tools/pulsar/pulsar-standalone.sh" start "$work/pulsar" >/dev/null
# The standalone creates its cluster and the tenant "public" just after it
# starts serving.
for _ in $(seq 1 120); do
  [[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$web/admin/v2/tenants/public")" == 200 ]] && break
  sleep 0.5
done

# Pulsar itself refuses a token it did not sign.
if "$cli" produce --url "$url" --token "$forged" --topic persistent://public/default/forged -n 1 >/dev/null 2>&1; then
  fail "a forged token was accepted"
fi
curl -s -o /dev/null -w '%{http_code}' "$web/admin/v2/tenants" | grep -q '^401$' || fail "the admin API answers without a token"

port="$(free_port)"
"$broker_bin" --listeners="PLAINTEXT://127.0.0.1:$port" --log.dirs="$work/data" --kwire.storage=pulsar \
  --pulsarServiceUrl="$url" --pulsarWebServiceUrl="$web" --brokerClientAuthenticationParameters="token:$token" \
  >"$work/broker.log" 2>&1 &
pid=$!
wait_listening "$port" "$pid" || fail "kwire-broker did not listen: $(tail -3 "$work/broker.log")"
kafka="$root/tools/peers/kafka-cli.sh"
printf 'one\ntwo\nthree\n' | "$kafka" kafka-console-producer --bootstrap-server "127.0.0.1:$port" --topic authed \
  --command-property acks=all 2>>"$work/kafka.err"
got="$("$kafka" kafka-console-consumer --bootstrap-server "127.0.0.1:$port" --topic authed --from-beginning \
  --max-messages 3 --timeout-ms 30000 2>>"$work/kafka.err" | tr '\n' ' ')"
[[ "$got" == "one two three " ]] || fail "read back through a token-authenticated Pulsar: '$got'"
echo "kwire-broker with a token: 3 records through a Pulsar that requires tokens; a forged token refused"
