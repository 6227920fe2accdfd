"""Produces and consumes 10,000 keyed records with headers through a group,
with either confluent-kafka (librdkafka) or kafka-python, against a broker.

    python clients.py confluent|kafka-python BOOTSTRAP
"""
import sys
import time
import uuid

N = 10_000


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def run_confluent(bootstrap, topic, group):
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)]).values():
        f.result(30)
    acked = []

    def on_delivery(err, msg):
        if err is not None:
            fail(f"delivery failed: {err}")
        acked.append(msg.key())

    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                  "linger.ms": 5, "compression.type": "lz4"})
    for i in range(N):
        p.produce(topic, key=f"key-{i}", value=f"value-{i}", headers=[("idx", str(i).encode()), ("src", b"rdkafka")],
                  on_delivery=on_delivery)
        if i % 1000 == 0:
            p.poll(0)
    if p.flush(60) != 0:
        fail("producer did not flush")
    if len(acked) != N:
        fail(f"acked {len(acked)}")

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe([topic])
    seen = {}
    deadline = time.time() + 90
    while len(seen) < N and time.time() < deadline:
        for m in c.consume(500, 1.0):
            if m.error():
                fail(f"consume error: {m.error()}")
            key = m.key().decode()
            hdrs = dict(m.headers() or [])
            if m.value().decode() != "value-" + key[4:] or hdrs.get("idx") != key[4:].encode():
                fail(f"bad record {key}: {m.value()} {hdrs}")
            if key in seen:
                fail(f"duplicate {key}")
            seen[key] = (m.partition(), m.offset())
        c.commit(asynchronous=False) if seen else None
    assignment = c.assignment()
    committed = c.committed(assignment, 10)
    c.close()
    if len(seen) != N:
        fail(f"consumed {len(seen)} of {N}")
    if sum(tp.offset for tp in committed) != N:
        fail(f"committed offsets {committed}")


def run_kafka_python(bootstrap, topic, group):
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
    admin.close()
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, compression_type="gzip")
    futures = [p.send(topic, key=f"key-{i}".encode(), value=f"value-{i}".encode(),
                      headers=[("idx", str(i).encode()), ("src", b"kafka-python")]) for i in range(N)]
    p.flush(60)
    for f in futures:
        f.get(30)
    p.close()

    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                      enable_auto_commit=False)
    seen = {}
    deadline = time.time() + 90
    while len(seen) < N and time.time() < deadline:
        batch = c.poll(timeout_ms=1000, max_records=1000)
        for records in batch.values():
            for m in records:
                key = m.key.decode()
                hdrs = dict(m.headers or [])
                if m.value.decode() != "value-" + key[4:] or hdrs.get("idx") != key[4:].encode():
                    fail(f"bad record {key}: {m.value} {hdrs}")
                if key in seen:
                    fail(f"duplicate {key}")
                seen[key] = (m.partition, m.offset)
        if batch:
            c.commit()
    parts = c.assignment()
    committed = sum(c.committed(tp) or 0 for tp in parts)
    c.close()
    if len(seen) != N:
        fail(f"consumed {len(seen)} of {N}")
    if committed != N:
        fail(f"committed {committed}")


def run_sasl(bootstrap, topic, group):
    """SASL/PLAIN through librdkafka: the right password works, a wrong one is refused."""
    from confluent_kafka import Consumer, KafkaError, Producer

    auth = {"bootstrap.servers": bootstrap, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "PLAIN",
            "sasl.username": "alice", "sasl.password": "alice-secret"}
    p = Producer({**auth, "enable.idempotence": True})
    errors = []
    for i in range(100):
        p.produce(topic, key=f"key-{i}", value=f"value-{i}", on_delivery=lambda err, msg: err and errors.append(err))
    if p.flush(60) != 0 or errors:
        fail(f"authenticated produce: {errors}")
    c = Consumer({**auth, "group.id": group, "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got = 0
    deadline = time.time() + 60
    while got < 100 and time.time() < deadline:
        got += sum(1 for m in c.consume(100, 1.0) if not m.error())
    c.close()
    if got != 100:
        fail(f"authenticated consumer read {got}")

    auth_errors = []
    bad = Producer({**auth, "sasl.password": "wrong", "error_cb": lambda e: auth_errors.append(e)})
    bad.produce(topic, value=b"x")
    deadline = time.time() + 20
    while not any(e.code() == KafkaError._AUTHENTICATION for e in auth_errors) and time.time() < deadline:
        bad.poll(0.2)
    if not any(e.code() == KafkaError._AUTHENTICATION for e in auth_errors):
        fail(f"a wrong password was not refused: {auth_errors}")
    bad.purge()
    bad.flush(1)


def run_tenants(bootstrap, topic, group):
    """SASL users named tenant/namespace each work in their own namespace:
    the same topic name holds different records per tenant, and no tenant
    lists, reads or writes another's topics."""
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient

    def auth(user, password):
        return {"bootstrap.servers": bootstrap, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "PLAIN",
                "sasl.username": user, "sasl.password": password}

    t1, t2, plain = auth("t1/ns1", "s1"), auth("t2/ns2", "s2"), auth("alice", "alice-secret")

    def produce(conf, t, values):
        p = Producer({**conf, "enable.idempotence": True})
        errors = []
        for v in values:
            p.produce(t, value=v, on_delivery=lambda err, msg: err and errors.append(err))
        if p.flush(60) != 0 or errors:
            fail(f"produce as {conf['sasl.username']} to {t}: {errors}")

    def read_all(conf, t, expect):
        c = Consumer({**conf, "group.id": f"{group}-{conf['sasl.username'].replace('/', '-')}",
                      "auto.offset.reset": "earliest", "enable.auto.commit": False})
        c.subscribe([t])
        got = []
        deadline = time.time() + 30
        while len(got) < expect and time.time() < deadline:
            got += [m.value().decode() for m in c.consume(100, 1.0) if not m.error()]
        # A little longer: anything beyond `expect` would be another tenant's.
        got += [m.value().decode() for m in c.consume(100, 2.0) if not m.error()]
        c.close()
        return got

    def topics_of(conf):
        return set(AdminClient(conf).list_topics(timeout=30).topics)

    produce(t1, topic, ["t1-a", "t1-b"])
    produce(t2, topic, ["t2-x"])
    produce(t2, topic + "-t2only", ["t2-only"])
    if (got := read_all(t1, topic, 2)) != ["t1-a", "t1-b"]:
        fail(f"tenant t1 read {got}")
    if (got := read_all(t2, topic, 1)) != ["t2-x"]:
        fail(f"tenant t2 read {got}")
    seen1, seen2, seen_plain = topics_of(t1), topics_of(t2), topics_of(plain)
    if topic not in seen1 or topic + "-t2only" in seen1:
        fail(f"tenant t1 lists {sorted(seen1)}")
    if topic + "-t2only" not in seen2:
        fail(f"tenant t2 lists {sorted(seen2)}")
    if topic in seen_plain or topic + "-t2only" in seen_plain:
        fail(f"a user of the broker's own namespace lists {sorted(seen_plain)}")
    print(f"tenants: t1 and t2 each see only their own '{topic}'; the default namespace sees neither")


def main():
    client, bootstrap = sys.argv[1], sys.argv[2]
    topic = f"py-{client}-{uuid.uuid4().hex[:8]}"
    group = f"grp-{client}"
    {"confluent": run_confluent, "kafka-python": run_kafka_python, "sasl": run_sasl, "tenants": run_tenants}[client](bootstrap, topic, group)
    print(f"OK {client}: records produced and consumed through group {group}")


if __name__ == "__main__":
    main()
