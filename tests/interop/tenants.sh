#!/usr/bin/env bash
# SASL users named tenant/namespace work in their own namespace (on the
# embedded store, a directory per namespace) and see nothing of the others.
LISTENER=SASL_PLAINTEXT
source "$(dirname "$0")/lib.sh"
py="$("$ROOT/tools/peers/python-env.sh")"
start_broker --auto.create.topics.enable=true \
  '--listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret" user_t1/ns1="s1" user_t2/ns2="s2";'
"$py" "$ROOT/tests/interop/python/clients.py" tenants "$BOOTSTRAP"
[[ -d "$DATA_DIR/namespaces/t1/ns1" && -d "$DATA_DIR/namespaces/t2/ns2" ]] || { echo "no per-namespace data directories" >&2; exit 1; }
