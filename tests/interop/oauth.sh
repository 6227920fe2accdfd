#!/usr/bin/env bash
# SASL/OAUTHBEARER on a SASL_PLAINTEXT listener. Tokens are JWTs signed by
# the RSA and EC keys of a JSON Web Key Set file the broker reads
# (sasl.oauthbearer.jwks.endpoint.url); it expects an issuer and an audience
# and asks for re-authentication every 2 s (connections.max.reauth.ms).
# Kafka's console producer and consumer log in with a token file, franz-go
# with a static token, librdkafka with tokens it asks for at each login and
# keeps producing across re-authentications. Expired, foreign-audience,
# wrongly signed and unsigned tokens are refused; a key removed from the file
# stops verifying without a restart.
LISTENER=SASL_PLAINTEXT
source "$(dirname "$0")/lib.sh"
py="$("$ROOT/tools/peers/python-env.sh")"
fail() { echo "FAIL: $*" >&2; exit 1; }
tool() { "$py" "$ROOT/tests/interop/python/jwt_tool.py" "$@"; }

openssl genrsa -out "$WORK/idp-rsa.pem" 2048 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/idp-ec.pem"
openssl genrsa -out "$WORK/rogue.pem" 2048 2>/dev/null
tool jwks "$WORK/idp-rsa.pem:rsa-1" "$WORK/idp-ec.pem:ec-1" >"$WORK/jwks.json"

metrics_port="$(free_port)"
start_broker --auto.create.topics.enable=true \
  --sasl.enabled.mechanisms=OAUTHBEARER \
  --sasl.oauthbearer.jwks.endpoint.url="file://$WORK/jwks.json" \
  --sasl.oauthbearer.expected.audience=kwire \
  --sasl.oauthbearer.expected.issuer=https://idp.example \
  --connections.max.reauth.ms=2000 \
  --kwire.metrics.listener="127.0.0.1:$metrics_port"

claims() {  # claims AUDIENCE EXPIRY_OFFSET_SECONDS (signed)
  echo "{\"sub\":\"alice\",\"iss\":\"https://idp.example\",\"aud\":\"$1\",\"iat\":{now}-5,\"exp\":{now}$2}"
}

# Kafka's Java client: the token from a file (OAuthBearerLoginCallbackHandler).
tool token "$WORK/idp-ec.pem" ec-1 "$(claims kwire +3600)" ES256 >"$WORK/alice.jwt"
cat >"$WORK/client.properties" <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=OAUTHBEARER
sasl.login.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler
sasl.oauthbearer.token.endpoint.url=file://$WORK/alice.jwt
sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;
PROPS
export KAFKA_OPTS="-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=file://$WORK/alice.jwt"
seq 1 20 | sed 's/^/java-oauth-/' |
  kafka_cli kafka-console-producer --bootstrap-server "$BOOTSTRAP" --topic oauth-java --producer.config "$WORK/client.properties"
out="$(kafka_cli kafka-console-consumer --bootstrap-server "$BOOTSTRAP" --topic oauth-java --from-beginning \
  --max-messages 20 --timeout-ms 30000 --consumer.config "$WORK/client.properties" 2>/dev/null)"
[[ "$(grep -c '^java-oauth-' <<<"$out")" == 20 ]] || fail "Java console consumer read: $out"
echo "Java console clients over OAUTHBEARER: 20 records"

# franz-go: a valid RSA-signed token, then tokens that must be refused.
"$ROOT/tools/peers/go-env.sh" build "$ROOT/tests/interop/go/franz_oauth" "$WORK/franz_oauth" >/dev/null
franz() { "$WORK/franz_oauth" -brokers "$BOOTSTRAP" "$@"; }
tool token "$WORK/idp-rsa.pem" rsa-1 "$(claims kwire +3600)" >"$WORK/good.jwt"
franz -token "$WORK/good.jwt" -expect ok
declare -A bad_reason=(
  [expired]="the token expired"
  [audience]="audience is not an expected one"
  [rogue]="signature does not verify"
  [unsigned]="is not accepted"
)
tool token "$WORK/idp-rsa.pem" rsa-1 "$(claims kwire -120)" >"$WORK/expired.jwt"
tool token "$WORK/idp-rsa.pem" rsa-1 "$(claims someone-else +3600)" >"$WORK/audience.jwt"
tool token "$WORK/rogue.pem" rsa-1 "$(claims kwire +3600)" >"$WORK/rogue.jwt"
tool token "$WORK/idp-rsa.pem" rsa-1 "$(claims kwire +3600)" none >"$WORK/unsigned.jwt"
for bad in expired audience rogue unsigned; do
  franz -token "$WORK/$bad.jwt" -expect refused
  grep -q "SASL/OAUTHBEARER authentication failed from .*${bad_reason[$bad]}" "$BROKER_LOG" ||
    fail "the broker log does not say why the $bad token was refused"
done
"$py" "$ROOT/tests/interop/python/oauth_clients.py" refused "$BOOTSTRAP" "$WORK/expired.jwt"

# librdkafka: a token per login and re-authentication every 2 s (KIP-368).
"$py" "$ROOT/tests/interop/python/oauth_clients.py" reauth "$BOOTSTRAP" "$WORK/idp-rsa.pem" rsa-1 \
  "http://127.0.0.1:$metrics_port/metrics"

# Key rotation: with the RSA key gone from the file, its tokens fail; the EC key still verifies.
tool jwks "$WORK/idp-ec.pem:ec-1" >"$WORK/jwks.json.new"
mv "$WORK/jwks.json.new" "$WORK/jwks.json"
touch -d '+2 seconds' "$WORK/jwks.json"
franz -token "$WORK/good.jwt" -expect refused
tool token "$WORK/idp-ec.pem" ec-1 "$(claims kwire +3600)" ES256 >"$WORK/ec.jwt"
franz -token "$WORK/ec.jwt" -expect ok -n 10
echo "OK"
