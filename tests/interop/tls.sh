#!/usr/bin/env bash
# TLS with client certificates: librdkafka over an SSL listener with
# ssl.client.auth=required produces and consumes (fetches leave through TLS,
# not sendfile) as the principal its certificate maps to; a certificate from
# another CA and a client without one are refused in the handshake, and
# counted as failed logins in /metrics.
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
  '--ssl.principal.mapping.rules=RULE:^CN=(.*?),.*$/$1/,DEFAULT'
"$py" "$ROOT/tests/interop/python/tls_clients.py" mtls "$BOOTSTRAP" "$WORK/certs"
# The subject (RFC 2253: CN=app-client,O=kwire) went through the rule.
grep -q "authenticated by its certificate as User:app-client" "$BROKER_LOG"
grep -q "TLS handshake failed" "$BROKER_LOG"
failures="$(curl -sf "http://127.0.0.1:$metrics_port/metrics" | awk '$1 == "kwire_authentication_failures_total" { print $2 }')"
[[ "${failures:-0}" -ge 2 ]] || { echo "FAIL: $failures refused certificates counted as failed logins" >&2; exit 1; }
