#!/usr/bin/env bash
# Token authentication: a Pulsar standalone that requires JWTs (HS256), its
# own instance on other ports; kwire-broker given a token produces and
# consumes through it, and a client with a token signed by another key is
# refused. Then Kafka clients log in with Pulsar's tokens (OAUTHBEARER with
# kwire.sasl.oauthbearer.pulsar.passthrough): Pulsar checks each token, so
# its tokens, with or without an expiry, let franz-go produce and read, and a
# token Pulsar did not sign, or an expired one, is refused.
# usage: token_auth.sh KWIRE_BROKER KWIRE_PULSAR_CLI
set -euo pipefail
broker_bin="$1"
cli="$2"
source "$(dirname "${BASH_SOURCE[0]}")/own_standalone.sh" TOKEN 26652 28082 23183

# HS256 JWT for subject $2 signed with the key in file $1, expiring $3
# seconds from now if given.
jwt() {
  python3 - "$1" "$2" "${3:-}" <<'PY'
import base64, hashlib, hmac, json, sys, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
key = open(sys.argv[1], "rb").read()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
claims = {"sub": sys.argv[2]}
if sys.argv[3]:
    claims["exp"] = int(time.time()) + int(sys.argv[3])
body = b64(json.dumps(claims).encode())
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
kill -TERM "$pid"
wait "$pid" || true

port="$(free_port)"
"$broker_bin" --listeners="SASL_PLAINTEXT://127.0.0.1:$port" --log.dirs="$work/data2" --kwire.storage=pulsar \
  --pulsarServiceUrl="$url" --pulsarWebServiceUrl="$web" --brokerClientAuthenticationParameters="token:$token" \
  --sasl.enabled.mechanisms=OAUTHBEARER --kwire.sasl.oauthbearer.pulsar.passthrough=true \
  --auto.create.topics.enable=true >"$work/broker.log" 2>&1 &
pid=$!
wait_listening "$port" "$pid" || fail "kwire-broker with pass-through did not listen: $(tail -3 "$work/broker.log")"
jwt "$work/secret.key" alice 3600 >"$work/alice.jwt"
jwt "$work/secret.key" bob >"$work/bob.jwt"  # no expiry: Pulsar takes it
jwt "$work/other.key" alice 3600 >"$work/forged.jwt"
jwt "$work/secret.key" alice -120 >"$work/expired.jwt"
"$root/tools/peers/go-env.sh" build "$root/tests/interop/go/franz_oauth" "$work/franz_oauth" >/dev/null
franz() { "$work/franz_oauth" -brokers "127.0.0.1:$port" -n 200 "$@"; }
franz -token "$work/alice.jwt" -expect ok || fail "a Pulsar token was refused"
franz -token "$work/bob.jwt" -expect ok || fail "a Pulsar token without an expiry was refused"
franz -token "$work/forged.jwt" -expect refused || fail "a token Pulsar did not sign was accepted"
grep -q "Pulsar refused the token" "$work/broker.log" || fail "the broker does not say Pulsar refused the token"
franz -token "$work/expired.jwt" -expect refused || fail "an expired token was accepted"
echo "kwire-broker with a token: 3 records through a Pulsar that requires tokens; a forged token refused;" \
  "Kafka clients logged in with Pulsar's tokens, a forged and an expired one refused"
