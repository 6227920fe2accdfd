#!/usr/bin/env bash
# SASL/SCRAM over a SASL_SSL listener: an admin seeded at startup
# (kwire.sasl.scram.users) manages users with kafka-configs; Kafka's Java
# client logs in with SCRAM-SHA-512 and produces and consumes; librdkafka
# with SCRAM-SHA-256, also as a tenant/namespace user; wrong passwords,
# unknown and deleted users are refused with SASL_AUTHENTICATION_FAILED;
# credentials outlive a restart.
LISTENER=SASL_SSL
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/certs.sh"
py="$("$ROOT/tools/peers/python-env.sh")"
make_certs "$WORK/certs"
CA="$WORK/certs/ca.pem"
fail() { echo "FAIL: $*" >&2; exit 1; }

start_broker --auto.create.topics.enable=true \
  --ssl.keystore.location="$WORK/certs/server.pem" \
  --sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512 \
  '--kwire.sasl.scram.users=SCRAM-SHA-512=[name=admin,password=admin-secret]'

cat >"$WORK/admin.properties" <<PROPS
security.protocol=SASL_SSL
ssl.truststore.type=PEM
ssl.truststore.location=$CA
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="admin-secret";
PROPS
configs() { kafka_cli kafka-configs --bootstrap-server "$BOOTSTRAP" --command-config "$WORK/admin.properties" "$@"; }
java_scram() { java -cp "$(kafka_classpath)" "$ROOT/tests/interop/java/ScramClients.java" "$BOOTSTRAP" "$CA" "$@"; }

configs --alter --add-config 'SCRAM-SHA-512=[iterations=8192,password=alice-secret]' --entity-type users --entity-name alice
configs --alter --add-config 'SCRAM-SHA-256=[password=bob-secret]' --entity-type users --entity-name bob
configs --alter --add-config 'SCRAM-SHA-256=[password=t1-secret]' --entity-type users --entity-name t1/ns1
desc="$(configs --describe --entity-type users --entity-name alice)"
echo "$desc"
grep -q "SCRAM-SHA-512=iterations=8192" <<<"$desc" || fail "describe alice: $desc"
all="$(configs --describe --entity-type users)"
echo "$all"
for u in admin alice bob; do grep -q "user-principal '$u'" <<<"$all" || fail "describe all lacks $u: $all"; done

java_scram roundtrip SCRAM-SHA-512 alice alice-secret
java_scram refused SCRAM-SHA-512 alice wrong-secret
java_scram refused SCRAM-SHA-512 mallory anything
java_scram refused SCRAM-SHA-256 alice alice-secret  # alice has no SCRAM-SHA-256 credential
"$py" "$ROOT/tests/interop/python/tls_clients.py" scram "$BOOTSTRAP" "$WORK/certs"

configs --alter --delete-config SCRAM-SHA-512 --entity-type users --entity-name alice
java_scram refused SCRAM-SHA-512 alice alice-secret
desc="$(configs --describe --entity-type users --entity-name alice 2>&1 || true)"
grep -q "SCRAM-SHA-512" <<<"$desc" && fail "alice still described after deletion: $desc"

# Credentials are stored: after a restart bob logs in, alice still cannot.
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" || true
restart_broker
java_scram roundtrip SCRAM-SHA-256 bob bob-secret
java_scram refused SCRAM-SHA-512 alice alice-secret
grep -q "SASL/SCRAM-SHA-512 authentication failed" "$BROKER_LOG"
