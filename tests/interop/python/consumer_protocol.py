"""librdkafka (confluent-kafka) with the consumer group protocol (KIP-848,
group.protocol=consumer) against a broker: two members share a topic, one
leaves after a while, the other takes over from the committed offsets; every
record is consumed once and the group's commits add up.

    python consumer_protocol.py BOOTSTRAP
"""
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

N = 3000
TOPIC, GROUP = "rdkafka848", "grp-rdkafka848"


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def main(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(TOPIC, num_partitions=4, replication_factor=1)]).values():
        f.result(30)
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for i in range(N):
        p.produce(TOPIC, key=f"key-{i}", value=b"v")
        if i % 500 == 0:
            p.poll(0)
    if p.flush(60) != 0:
        fail("producer did not flush")

    seen = {}
    lock = threading.Lock()
    errors = []

    def member(name, quota, out):
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "group.protocol": "consumer",
                      "auto.offset.reset": "earliest", "enable.auto.commit": False})

        def on_revoke(consumer, partitions):
            try:
                consumer.commit(asynchronous=False)
            except KafkaException:
                pass  # nothing consumed yet: nothing to commit

        c.subscribe([TOPIC], on_revoke=on_revoke)
        mine = 0
        deadline = time.time() + 120
        while mine < quota and time.time() < deadline:
            with lock:
                if len(seen) >= N:
                    break
            msgs = c.consume(20, 0.5)
            for m in msgs:
                if m.error():
                    errors.append(f"{name}: {m.error()}")
                    continue
                with lock:
                    seen[m.key().decode()] = seen.get(m.key().decode(), 0) + 1
                mine += 1
            if msgs:
                c.commit(asynchronous=False)
                time.sleep(0.02)
        c.close()  # leaves the group
        out.append(mine)

    got_a, got_b = [], []
    a = threading.Thread(target=member, args=("a", N, got_a))
    b = threading.Thread(target=member, args=("b", N // 4, got_b))
    a.start()
    b.start()
    a.join(150)
    b.join(150)
    if errors:
        fail(errors[:5])
    if not got_a or not got_b or got_a[0] == 0 or got_b[0] == 0:
        fail(f"a member read nothing: a={got_a} b={got_b}")
    dups = [k for k, n in seen.items() if n != 1]
    if dups:
        fail(f"{len(dups)} records consumed more than once, e.g. {dups[:5]}")
    if len(seen) != N:
        fail(f"distinct records consumed: {len(seen)} of {N}")
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP})
    committed = c.committed([TopicPartition(TOPIC, i) for i in range(4)], timeout=30)
    c.close()
    total = sum(tp.offset for tp in committed)
    if total != N:
        fail(f"committed {total} of {N}")
    # The group was one of the consumer protocol, not a classic one.
    from confluent_kafka import ConsumerGroupType
    listed = admin.list_consumer_groups(types={ConsumerGroupType.CONSUMER}).result(30)
    if GROUP not in [g.group_id for g in listed.valid]:
        fail(f"{GROUP} is not listed as a consumer group: {[g.group_id for g in listed.valid]}")
    print(f"OK librdkafka KIP-848: {N} records, a={got_a[0]} b={got_b[0]}")


if __name__ == "__main__":
    main(sys.argv[1])
