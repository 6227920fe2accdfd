"""Kafka clients over TLS listeners (tests/interop/tls.sh, scram.sh).

    python tls_clients.py mtls BOOTSTRAP CERT_DIR
    python tls_clients.py scram BOOTSTRAP CERT_DIR
"""
import sys
import time
import uuid

N = 2000
VALUE = b"v" * 1000  # a consumer's fetch then spans several TLS staging buffers


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def produce_and_consume(conf, topic, group):
    from confluent_kafka import Consumer, Producer

    p = Producer({**conf, "enable.idempotence": True, "linger.ms": 50})
    errors = []
    for i in range(N):
        p.produce(topic, key=str(i), value=VALUE + str(i).encode(),
                  on_delivery=lambda err, msg: err and errors.append(err))
    if p.flush(60) != 0 or errors:
        fail(f"produce over TLS: {errors[:3]}")
    c = Consumer({**conf, "group.id": group, "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got = {}
    deadline = time.time() + 60
    while len(got) < N and time.time() < deadline:
        for m in c.consume(500, 1.0):
            if not m.error():
                got[m.key().decode()] = m.value()
    c.close()
    if len(got) != N or any(got[str(i)] != VALUE + str(i).encode() for i in range(N)):
        fail(f"consumer over TLS read {len(got)} of {N} records intact")


def refused(conf, topic):
    """The client's handshake is refused: it reports an SSL or transport
    error and never gets a produce through."""
    from confluent_kafka import KafkaError, Producer

    seen = []
    delivered = []
    p = Producer({**conf, "error_cb": lambda e: seen.append(e), "message.timeout.ms": 8000, "log_level": 0})
    p.produce(topic, value=b"x", on_delivery=lambda err, msg: delivered.append(err))
    deadline = time.time() + 20
    while not delivered and time.time() < deadline:
        p.poll(0.2)
    if not delivered or delivered[0] is None:
        fail(f"a refused client delivered a record: {delivered}")
    codes = {e.code() for e in seen}
    if not codes & {KafkaError._SSL, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN}:
        fail(f"a refused client saw no TLS failure: {seen}")


def run_mtls(bootstrap, certs):
    base = {"bootstrap.servers": bootstrap, "security.protocol": "SSL", "ssl.ca.location": f"{certs}/ca.pem"}
    trusted = {**base, "ssl.certificate.location": f"{certs}/client.pem", "ssl.key.location": f"{certs}/client.key"}
    topic = f"tls-{uuid.uuid4().hex[:8]}"
    produce_and_consume(trusted, topic, f"grp-{topic}")
    stranger = {**base, "ssl.certificate.location": f"{certs}/stranger.pem", "ssl.key.location": f"{certs}/stranger.key"}
    refused(stranger, topic)
    refused(base, topic)  # no certificate at all
    print(f"OK mtls: {N} records through TLS with a client certificate; a stranger's and none refused")


def run_scram(bootstrap, certs):
    """librdkafka with SCRAM-SHA-256 over SASL_SSL: bob (made by
    kafka-configs) produces and consumes; t1/ns1 works in its own namespace;
    a wrong password is refused as an authentication failure."""
    from confluent_kafka import KafkaError, Producer
    from confluent_kafka.admin import AdminClient

    def auth(user, password):
        return {"bootstrap.servers": bootstrap, "security.protocol": "SASL_SSL", "ssl.ca.location": f"{certs}/ca.pem",
                "sasl.mechanisms": "SCRAM-SHA-256", "sasl.username": user, "sasl.password": password}

    topic = f"scram-{uuid.uuid4().hex[:8]}"
    produce_and_consume(auth("bob", "bob-secret"), topic, f"grp-{topic}")
    tenant_topic = f"tenant-{uuid.uuid4().hex[:8]}"
    produce_and_consume(auth("t1/ns1", "t1-secret"), tenant_topic, f"grp-{tenant_topic}")
    seen_by_bob = set(AdminClient(auth("bob", "bob-secret")).list_topics(timeout=30).topics)
    if tenant_topic in seen_by_bob or topic not in seen_by_bob:
        fail(f"namespaces mixed: bob sees {sorted(seen_by_bob)}")

    errors = []
    bad = Producer({**auth("bob", "wrong"), "error_cb": lambda e: errors.append(e), "log_level": 0})
    bad.produce(topic, value=b"x")
    deadline = time.time() + 20
    while not any(e.code() == KafkaError._AUTHENTICATION for e in errors) and time.time() < deadline:
        bad.poll(0.2)
    if not any(e.code() == KafkaError._AUTHENTICATION for e in errors):
        fail(f"a wrong SCRAM password was not refused: {errors}")
    bad.purge()
    bad.flush(1)
    print("OK scram: librdkafka logged in with SCRAM-SHA-256, as a tenant too; a wrong password refused")


def main():
    mode, bootstrap = sys.argv[1], sys.argv[2]
    {"mtls": lambda: run_mtls(bootstrap, sys.argv[3]), "scram": lambda: run_scram(bootstrap, sys.argv[3])}[mode]()


if __name__ == "__main__":
    main()
