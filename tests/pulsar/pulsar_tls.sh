#!/usr/bin/env bash
# TLS from kwire-broker to Pulsar: a standalone of its own that serves only
# TLS (pulsar+ssl://, https://; its plain ports closed) with a certificate
# from a test CA, and that takes only clients showing a certificate of that
# CA (TLS authentication). kwire-broker trusting that CA
# (tlsTrustCertsFilePath) and showing its client certificate
# (brokerClientAuthenticationParameters=tlsCertFile:...,tlsKeyFile:...)
# produces and consumes through it with Kafka's console tools; trusting
# another CA, showing no certificate or one of another CA, it refuses to
# start and says why; reaching the standalone by a name its certificate does
# not carry is refused (on https:// and on pulsar+ssl://), unless
# tlsEnableHostnameVerification=false.
# usage: pulsar_tls.sh KWIRE_BROKER
set -euo pipefail
broker_bin="$1"
source "$(dirname "${BASH_SOURCE[0]}")/own_standalone.sh" TLS 26663 28093 23193
source "$root/tests/interop/certs.sh"
export PULSAR_TLS_PORT="${TLS_PULSAR_TLS_PORT:-26664}" PULSAR_HTTPS_PORT="${TLS_PULSAR_HTTPS_PORT:-28094}"
make_certs "$work/certs"
export PULSAR_TLS_CERT="$work/certs/server.crt" PULSAR_TLS_KEY="$work/certs/server.key" PULSAR_TLS_CA="$work/certs/ca.pem"
export PULSAR_TLS_CLIENT_CERT="$work/certs/client.pem" PULSAR_TLS_CLIENT_KEY="$work/certs/client.key"
"$root/tools/pulsar/pulsar-standalone.sh" start "$work/pulsar" >/dev/null
url="pulsar+ssl://127.0.0.1:$PULSAR_TLS_PORT"
web="https://127.0.0.1:$PULSAR_HTTPS_PORT"
(exec 3<>"/dev/tcp/127.0.0.1/$PULSAR_PORT") 2>/dev/null && fail "the standalone still listens on its plain port"

# start_gateway LOG [flags...]: kwire-broker on a free port → $port, $pid
start_gateway() {
  local log="$1"
  shift
  port="$(free_port)"
  "$broker_bin" --listeners="PLAINTEXT://127.0.0.1:$port" --log.dirs="$work/data-$port" --kwire.storage=pulsar "$@" \
    >"$work/$log" 2>&1 &
  pid=$!
}
# refused LOG WHY [flags...]: kwire-broker exits without serving, its log saying WHY
refused() {
  local log="$1" why="$2"
  shift 2
  start_gateway "$log" "$@"
  for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && fail "kwire-broker runs with $*"
  wait "$pid" && { pid=""; fail "kwire-broker exited cleanly with $*"; }
  pid=""
  grep -q "$why" "$work/$log" || { cat "$work/$log" >&2; fail "no '$why' in the log"; }
  echo "refused: $(grep -o "TLS[a-z ]* with .*" "$work/$log" | head -1)"
}

cert=(--brokerClientAuthenticationParameters="tlsCertFile:$work/certs/client.pem,tlsKeyFile:$work/certs/client.key")
refused wrong-ca.log "the server's certificate was refused" --pulsarServiceUrl="$url" --pulsarWebServiceUrl="$web" \
  --tlsTrustCertsFilePath="$work/certs/stranger.pem" "${cert[@]}"
refused no-cert.log "the server refused this client.s certificate, or its lack of one" --pulsarServiceUrl="$url" --pulsarWebServiceUrl="$web" \
  --tlsTrustCertsFilePath="$work/certs/ca.pem"
refused stranger-cert.log "the server refused this client.s certificate, or its lack of one" --pulsarServiceUrl="$url" --pulsarWebServiceUrl="$web" \
  --tlsTrustCertsFilePath="$work/certs/ca.pem" \
  --brokerClientAuthenticationParameters="tlsCertFile:$work/certs/stranger.pem,tlsKeyFile:$work/certs/stranger.key"
# "127.1" reaches the standalone too (the resolver reads it as 127.0.0.1),
# but it is a name the certificate does not carry (it names localhost and
# 127.0.0.1).
refused other-name.log "hostname mismatch" --pulsarServiceUrl="$url" \
  --pulsarWebServiceUrl="https://127.1:$PULSAR_HTTPS_PORT" --tlsTrustCertsFilePath="$work/certs/ca.pem" "${cert[@]}"
# The same on the binary protocol (the admin API reached as it should be).
refused other-name-binary.log "TLS handshake with pulsar+ssl://127.1:$PULSAR_TLS_PORT: .*hostname mismatch" \
  --pulsarServiceUrl="pulsar+ssl://127.1:$PULSAR_TLS_PORT" --pulsarWebServiceUrl="$web" \
  --tlsTrustCertsFilePath="$work/certs/ca.pem" "${cert[@]}"

start_gateway broker.log --pulsarServiceUrl="$url" --pulsarWebServiceUrl="https://127.1:$PULSAR_HTTPS_PORT" \
  --tlsTrustCertsFilePath="$work/certs/ca.pem" --tlsEnableHostnameVerification=false "${cert[@]}"
wait_listening "$port" "$pid" 60 || fail "kwire-broker without hostname verification did not listen"
kill -TERM "$pid"
wait "$pid" || true

start_gateway broker.log --pulsarServiceUrl="pulsar+ssl://localhost:$PULSAR_TLS_PORT" --pulsarWebServiceUrl="$web" \
  --tlsTrustCertsFilePath="$work/certs/ca.pem" "${cert[@]}"
wait_listening "$port" "$pid" 60 || fail "kwire-broker did not listen: $(tail -3 "$work/broker.log")"
kafka="$root/tools/peers/kafka-cli.sh"
printf 'one\ntwo\nthree\n' | "$kafka" kafka-console-producer --bootstrap-server "127.0.0.1:$port" --topic secured \
  --command-property acks=all 2>>"$work/kafka.err"
got="$("$kafka" kafka-console-consumer --bootstrap-server "127.0.0.1:$port" --topic secured --from-beginning \
  --max-messages 3 --timeout-ms 30000 2>>"$work/kafka.err" | tr '\n' ' ')"
[[ "$got" == "one two three " ]] || fail "read back through a TLS-only Pulsar: '$got'"
echo "kwire-broker over TLS with a client certificate: 3 records through a Pulsar serving only TLS; a wrong CA, a wrong name, no client certificate and a foreign one refused"
