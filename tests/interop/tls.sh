#!/usr/bin/env bash
# TLS with client certificates: librdkafka over an SSL listener with
# ssl.client.auth=required produces and consumes (fetches leave through TLS,
# not sendfile) as the principal its certificate maps to; a certificate from
# another CA and a client without one are refused in the handshake, and
# counted as failed logins in /metrics. Then the broker's certificate is
# rotated on disk: new connections get the new one without a restart, and a
# broken file leaves the previous one in place.
LISTENER=SSL
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/certs.sh"
py="$("$ROOT/tools/peers/python-env.sh")"
make_certs "$WORK/certs"
metrics_port="$(free_port)"
start_broker --auto.create.topics.enable=true --kwire.metrics.listener="127.0.0.1:$metrics_port" \
  --ssl.keystore.type=PEM --ssl.keystore.location="$WORK/certs/server.pem" \
  --ssl.truststore.type=PEM --ssl.truststore.location="$WORK/certs/ca.pem" \
  --ssl.client.auth=required \
  '--ssl.principal.mapping.rules=RULE:^CN=(.*?),.*$/$1/,DEFAULT' --kwire.ssl.reload.interval.ms=300
"$py" "$ROOT/tests/interop/python/tls_clients.py" mtls "$BOOTSTRAP" "$WORK/certs"
# The subject (RFC 2253: CN=app-client,O=kwire) went through the rule.
grep -q "authenticated by its certificate as User:app-client" "$BROKER_LOG"
grep -q "TLS handshake failed" "$BROKER_LOG"
failures="$(curl -sf "http://127.0.0.1:$metrics_port/metrics" | awk '$1 == "kwire_authentication_failures_total" { print $2 }')"
[[ "${failures:-0}" -ge 2 ]] || { echo "FAIL: $failures refused certificates counted as failed logins" >&2; exit 1; }

# The serial number of the certificate the broker presents to a new
# connection, as OpenSSL's client sees it after verifying it with the CA.
served_serial() {
  openssl s_client -connect "$BOOTSTRAP" -servername localhost -verify_return_error \
    -CAfile "$WORK/certs/ca.pem" -cert "$WORK/certs/client.pem" -key "$WORK/certs/client.key" </dev/null 2>/dev/null |
    openssl x509 -noout -serial 2>/dev/null
}
wait_for_serial() {
  for _ in $(seq 1 100); do
    [[ "$(served_serial)" == "$1" ]] && return 0
    sleep 0.2
  done
  echo "FAIL: the broker serves $(served_serial), not $1" >&2
  exit 1
}
certs="$WORK/certs"
wait_for_serial "$(openssl x509 -in "$certs/server.crt" -noout -serial)"
# A renewed certificate from the same CA, put in place with a rename.
openssl req -newkey rsa:2048 -nodes -keyout "$certs/renewed.key" -out "$certs/renewed.csr" -subj "/CN=localhost" 2>/dev/null
openssl x509 -req -in "$certs/renewed.csr" -CA "$certs/ca.pem" -CAkey "$certs/ca.key" -CAcreateserial \
  -out "$certs/renewed.crt" -days 2 -extfile "$certs/server.ext" 2>/dev/null
cat "$certs/renewed.key" "$certs/renewed.crt" "$certs/ca.pem" >"$certs/server.pem.new"
mv "$certs/server.pem.new" "$certs/server.pem"
renewed="$(openssl x509 -in "$certs/renewed.crt" -noout -serial)"
wait_for_serial "$renewed"
grep -q "certificates reloaded for new connections" "$BROKER_LOG"
# librdkafka verifies the renewed certificate and works through it.
"$py" "$ROOT/tests/interop/python/tls_clients.py" mtls "$BOOTSTRAP" "$WORK/certs"
# A file that is not a key and certificate: refused, the renewed one stays.
echo "not a certificate" >"$certs/server.pem.new"
mv "$certs/server.pem.new" "$certs/server.pem"
for _ in $(seq 1 100); do
  grep -q "cannot reload its certificates, keeping the previous ones" "$BROKER_LOG" && break
  sleep 0.2
done
grep -q "cannot reload its certificates, keeping the previous ones" "$BROKER_LOG"
[[ "$(served_serial)" == "$renewed" ]] || { echo "FAIL: a broken keystore replaced the certificate" >&2; exit 1; }
echo "certificate rotation: ok"
