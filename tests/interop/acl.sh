#!/usr/bin/env bash
# ACLs on a SASL_PLAINTEXT listener with kwire's authorizer: a super user
# manages bindings with kafka-acls (--add, --list, --remove); Kafka's Java
# client as other users: a consumer without READ on a topic gets
# TopicAuthorizationException and listTopics() hides the topic, a PREFIXED
# binding grants, a DENY wins over an ALLOW, a group without READ gives
# GroupAuthorizationException; the bindings outlive a restart; a wrong
# password is refused after connection.failed.authentication.delay.ms,
# logged with the peer and counted in /metrics.
LISTENER=SASL_PLAINTEXT
source "$(dirname "$0")/lib.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

metrics_port="$(free_port)"
start_broker --authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer \
  '--super.users=User:admin' \
  --kwire.sasl.plain.users=admin:admin-secret,alice:alice-secret,bob:bob-secret \
  --connection.failed.authentication.delay.ms=1500 \
  --kwire.metrics.listener="127.0.0.1:$metrics_port"
wait_for_port "$metrics_port"

cat >"$WORK/admin.properties" <<PROPS
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret";
PROPS
acls() { kafka_cli kafka-acls --bootstrap-server "$BOOTSTRAP" --command-config "$WORK/admin.properties" "$@"; }
topics() { kafka_cli kafka-topics --bootstrap-server "$BOOTSTRAP" --command-config "$WORK/admin.properties" "$@"; }
clients() { java -cp "$(kafka_classpath)" "$ROOT/tests/interop/java/AclClients.java" "$BOOTSTRAP" "$@"; }

for t in orders secret logs-app; do topics --create --topic "$t" --partitions 1; done

# Nothing granted yet: alice reads nothing and sees nothing; the super user
# writes everywhere.
clients admin,admin-secret,produce,orders,20 admin,admin-secret,produce,secret,5 admin,admin-secret,produce,logs-app,5 \
  alice,alice-secret,topic-denied,orders alice,alice-secret,hidden,orders

acls --add --allow-principal User:alice --operation Read --topic orders --group alice-g
acls --add --allow-principal User:alice --operation Read --topic logs- --resource-pattern-type prefixed
acls --add --allow-principal 'User:*' --operation Read --topic secret
acls --add --deny-principal User:alice --operation Read --topic secret
list="$(acls --list)"
echo "$list"
grep -q "name=orders, patternType=LITERAL" <<<"$list" || fail "orders not listed: $list"
grep -q "name=logs-, patternType=PREFIXED" <<<"$list" || fail "the prefix not listed: $list"
grep -q "principal=User:alice, host=\*, operation=READ, permissionType=DENY" <<<"$list" || fail "the DENY not listed: $list"
grep -q "name=alice-g, patternType=LITERAL" <<<"$list" || fail "the group not listed: $list"

clients alice,alice-secret,consume,orders,alice-g,20 alice,alice-secret,sees,orders \
  alice,alice-secret,consume,logs-app,alice-g,5 \
  alice,alice-secret,produce-denied,orders \
  alice,alice-secret,topic-denied,secret \
  bob,bob-secret,topic-denied,orders bob,bob-secret,hidden,orders bob,bob-secret,sees,secret \
  bob,bob-secret,group-denied,secret,bob-g

acls --remove --force --allow-principal User:alice --operation Read --topic orders
list="$(acls --list --topic orders)"
grep -q "User:alice" <<<"$list" && fail "alice's binding on orders survived --remove: $list"
clients alice,alice-secret,topic-denied,orders

# The bindings are stored: after a restart they still decide.
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" || true
restart_broker
wait_for_port "$metrics_port"
list="$(acls --list)"
grep -q "permissionType=DENY" <<<"$list" || fail "the DENY did not survive the restart: $list"
grep -q "name=orders" <<<"$list" && fail "the removed binding came back: $list"
clients alice,alice-secret,topic-denied,secret alice,alice-secret,sees,logs-app alice,alice-secret,hidden,orders \
  bob,bob-secret,sees,secret alice,wrong-secret,refused,1500

metrics="$(curl -sf "http://127.0.0.1:$metrics_port/metrics")"
failures="$(awk '$1 == "kwire_authentication_failures_total" {print $2}' <<<"$metrics")"
[[ "${failures:-0}" -ge 1 ]] || fail "kwire_authentication_failures_total is '${failures:-}'"
grep -q "SASL/PLAIN authentication failed from 127.0.0.1:" "$BROKER_LOG" || fail "the failed login was not logged"
echo "OK"
