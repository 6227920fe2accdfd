#!/usr/bin/env bash
# SASL/OAUTHBEARER with the verification keys fetched from an identity
# provider's JWKS endpoint over HTTPS (sasl.oauthbearer.jwks.endpoint.url),
# its certificate checked against the test CA, its answers bounded at 1 MiB.
# franz-go logs in with an RSA-signed token. The endpoint then rotates its
# RSA key: the first token naming the new key id brings the hourly refresh
# forward, after which the new key's tokens work and the old one's are
# refused. With the endpoint down the last keys stay in force; a broker that
# cannot verify the endpoint's certificate, or gets an oversized answer, does
# not start.
LISTENER=SASL_PLAINTEXT
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/certs.sh"
py="$("$ROOT/tools/peers/python-env.sh")"
fail() { echo "FAIL: $*" >&2; exit 1; }
tool() { "$py" "$ROOT/tests/interop/python/jwt_tool.py" "$@"; }

make_certs "$WORK/certs"
mkdir -p "$WORK/idp"
openssl genrsa -out "$WORK/idp-rsa.pem" 2048 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/idp-ec.pem"
tool jwks "$WORK/idp-rsa.pem:rsa-1" "$WORK/idp-ec.pem:ec-1" >"$WORK/idp/jwks.json"

idp_port="$(free_port)"
"$py" "$ROOT/tests/interop/python/https_server.py" "$idp_port" "$WORK/idp" "$WORK/certs/server.crt" \
  "$WORK/certs/server.key" &
IDP_PID=$!
stop_idp() {
  [[ -n "${IDP_PID:-}" ]] || return 0
  kill "$IDP_PID" 2>/dev/null || true
  wait "$IDP_PID" 2>/dev/null || true
  IDP_PID=""
}
trap 'rc=$?; stop_idp || true; set +e; (exit $rc); cleanup' EXIT
wait_listening "$idp_port" "$IDP_PID" || fail "the JWKS endpoint did not start"
url="https://localhost:$idp_port/jwks.json"

# An endpoint whose certificate the broker cannot verify: it does not start.
if timeout 60 "$KWIRE_BROKER" --listeners="SASL_PLAINTEXT://127.0.0.1:$(free_port)" --log.dirs="$WORK/untrusted" \
  --sasl.enabled.mechanisms=OAUTHBEARER --sasl.oauthbearer.jwks.endpoint.url="$url" >"$WORK/untrusted.log" 2>&1; then
  fail "the broker started with an endpoint it cannot verify"
fi
grep -q "sasl.oauthbearer.jwks.endpoint.url $url: .*certificate verify failed" "$WORK/untrusted.log" ||
  fail "the broker does not say why: $(tail -3 "$WORK/untrusted.log")"

# An answer above the 1 MiB limit is refused, whatever it holds.
head -c 2000000 /dev/zero | tr '\0' ' ' >"$WORK/idp/big.json"
if timeout 60 "$KWIRE_BROKER" --listeners="SASL_PLAINTEXT://127.0.0.1:$(free_port)" --log.dirs="$WORK/big" \
  --sasl.enabled.mechanisms=OAUTHBEARER --sasl.oauthbearer.jwks.endpoint.url="https://localhost:$idp_port/big.json" \
  --kwire.sasl.oauthbearer.jwks.truststore.location="$WORK/certs/ca.pem" >"$WORK/big.log" 2>&1; then
  fail "the broker started with a 2 MB key set answer"
fi
grep -q "big.json: body limit exceeded" "$WORK/big.log" || fail "an oversized answer: $(tail -3 "$WORK/big.log")"

start_broker --auto.create.topics.enable=true \
  --sasl.enabled.mechanisms=OAUTHBEARER \
  --sasl.oauthbearer.jwks.endpoint.url="$url" \
  --kwire.sasl.oauthbearer.jwks.truststore.location="$WORK/certs/ca.pem" \
  --sasl.oauthbearer.jwks.endpoint.refresh.ms=3600000 \
  --sasl.oauthbearer.expected.audience=kwire \
  --sasl.oauthbearer.expected.issuer=https://idp.example

claims='{"sub":"alice","iss":"https://idp.example","aud":"kwire","iat":{now}-5,"exp":{now}+3600}'
tool token "$WORK/idp-rsa.pem" rsa-1 "$claims" >"$WORK/rsa.jwt"
tool token "$WORK/idp-ec.pem" ec-1 "$claims" ES256 >"$WORK/ec.jwt"
"$ROOT/tools/peers/go-env.sh" build "$ROOT/tests/interop/go/franz_oauth" "$WORK/franz_oauth" >/dev/null
franz() { "$WORK/franz_oauth" -brokers "$BOOTSTRAP" "$@"; }
franz -token "$WORK/rsa.jwt" -expect ok

# The provider rotates its keys: rsa-1 goes, rsa-2 comes. The broker would
# refresh in an hour; the first token naming rsa-2 is refused but brings the
# fetch forward. (That first token is signed by a key nobody publishes, so it
# stays refused however often the client retries.)
openssl genrsa -out "$WORK/idp-rsa2.pem" 2048 2>/dev/null
openssl genrsa -out "$WORK/forger.pem" 2048 2>/dev/null
tool token "$WORK/idp-rsa2.pem" rsa-2 "$claims" >"$WORK/rsa2.jwt"
tool token "$WORK/forger.pem" rsa-2 "$claims" >"$WORK/forged-rsa2.jwt"
tool jwks "$WORK/idp-ec.pem:ec-1" "$WORK/idp-rsa2.pem:rsa-2" >"$WORK/idp/jwks.json.new"
mv "$WORK/idp/jwks.json.new" "$WORK/idp/jwks.json"
franz -token "$WORK/forged-rsa2.jwt" -expect refused
grep -q "key id rsa-2 is not among the keys from $url: fetching them now" "$BROKER_LOG" ||
  fail "a missing key id did not bring the fetch forward"
for _ in $(seq 1 100); do
  [[ "$(grep -c "OAUTHBEARER keys from $url: 2 key(s)" "$BROKER_LOG")" -ge 2 ]] && break
  sleep 0.2
done
[[ "$(grep -c "OAUTHBEARER keys from $url: 2 key(s)" "$BROKER_LOG")" -ge 2 ]] || fail "the broker did not take the new key set"
franz -token "$WORK/rsa2.jwt" -expect ok
franz -token "$WORK/rsa.jwt" -expect refused
franz -token "$WORK/ec.jwt" -expect ok

# A made-up key id brings a fetch forward once a minute at most.
tool token "$WORK/idp-rsa2.pem" ghost "$claims" >"$WORK/ghost.jwt"
franz -token "$WORK/ghost.jwt" -expect refused
franz -token "$WORK/ghost.jwt" -expect refused
[[ "$(grep -c "key id ghost is not among" "$BROKER_LOG")" == 1 ]] || fail "a made-up key id fetched the keys more than once"

# The provider is down: the fetch a new key id asks for fails, and the broker
# keeps the keys it has.
stop_idp
tool token "$WORK/idp-rsa2.pem" rsa-3 "$claims" >"$WORK/rsa3.jwt"
franz -token "$WORK/rsa3.jwt" -expect refused
for _ in $(seq 1 100); do
  grep -q "not refreshed, the previous ones stay in force" "$BROKER_LOG" && break
  sleep 0.2
done
grep -q "not refreshed, the previous ones stay in force" "$BROKER_LOG" || fail "a failed refresh is not logged"
franz -token "$WORK/ec.jwt" -expect ok
franz -token "$WORK/rsa2.jwt" -expect ok
echo "OK"
