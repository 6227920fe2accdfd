"""Transactions with librdkafka (confluent-kafka) against a broker: committed
records once and aborted ones never for read_committed consumers,
consume-transform-produce with the offsets sent in the transaction, and a
producer fenced by a second one with the same transactional id.

    python transactions.py BOOTSTRAP
"""
import sys
import time

from confluent_kafka import ConsumerGroupTopicPartitions, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def producer(bootstrap, tid):
    p = Producer({"bootstrap.servers": bootstrap, "transactional.id": tid, "linger.ms": 5})
    p.init_transactions(30)
    return p


def send(p, topic, prefix, n):
    for i in range(n):
        p.produce(topic, key=f"k{i}", value=f"{prefix}-{i}")
    p.poll(0)


def read_all(bootstrap, topic, partitions, isolation):
    """Every value of the topic from the start, up to the end offsets of the
    consumer's isolation level (the last stable offsets for read_committed)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{topic}-{isolation}-{time.time()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False, "isolation.level": isolation})
    tps = [TopicPartition(topic, p, 0) for p in range(partitions)]
    c.assign(tps)
    ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in range(partitions)}
    out = []
    deadline = time.time() + 60
    while time.time() < deadline:
        for m in c.consume(500, 0.5):
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    continue
                fail(f"consume error: {m.error()}")
            out.append(m.value().decode())
        positions = c.position(tps)
        if all(tp.offset >= ends[tp.partition] for tp in positions if ends[tp.partition] > 0):
            break
    for m in c.consume(500, 0.5):
        if not m.error():
            out.append(m.value().decode())
    c.close()
    return out, ends


def check_exactly(got, expected, what):
    counts = {}
    for v in got:
        counts[v] = counts.get(v, 0) + 1
    dups = [v for v, n in counts.items() if n > 1]
    if dups:
        fail(f"{what}: read more than once: {sorted(dups)[:10]}")
    if set(counts) != set(expected):
        fail(f"{what}: missing {sorted(set(expected) - set(counts))[:10]}, unexpected {sorted(set(counts) - set(expected))[:10]}")


def values(prefix, n):
    return [f"{prefix}-{i}" for i in range(n)]


def main():
    bootstrap = sys.argv[1]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(t, num_partitions=2, replication_factor=1)
                                  for t in ("rd-txn", "rd-in", "rd-out", "rd-fence")]).values():
        f.result(30)

    # Commit and abort.
    p = producer(bootstrap, "rd-1")
    p.begin_transaction()
    send(p, "rd-txn", "c1", 50)
    p.commit_transaction(30)
    p.begin_transaction()
    send(p, "rd-txn", "a1", 50)
    p.flush(30)
    p.abort_transaction(30)
    p.begin_transaction()
    send(p, "rd-txn", "c2", 50)
    p.commit_transaction(30)
    committed, stable = read_all(bootstrap, "rd-txn", 2, "read_committed")
    check_exactly(committed, values("c1", 50) + values("c2", 50), "read_committed")
    everything, high = read_all(bootstrap, "rd-txn", 2, "read_uncommitted")
    check_exactly(everything, values("c1", 50) + values("a1", 50) + values("c2", 50), "read_uncommitted")

    # Consume-transform-produce: input records moved with their offsets
    # committed in the same transactions.
    plain = Producer({"bootstrap.servers": bootstrap})
    send(plain, "rd-in", "in", 200)
    plain.flush(30)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "rd-ctp", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "isolation.level": "read_committed"})
    c.subscribe(["rd-in"])
    worker = producer(bootstrap, "rd-worker")
    moved = 0
    deadline = time.time() + 90
    while moved < 200 and time.time() < deadline:
        msgs = [m for m in c.consume(100, 1.0) if not m.error()]
        if not msgs:
            continue
        worker.begin_transaction()
        for m in msgs:
            worker.produce("rd-out", key=m.key(), value="out-" + m.value().decode()[3:])
        worker.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 30)
        worker.commit_transaction(30)
        moved += len(msgs)
    c.close()
    if moved != 200:
        fail(f"moved {moved} of 200")
    out, _ = read_all(bootstrap, "rd-out", 2, "read_committed")
    check_exactly(out, values("out", 200), "rd-out read_committed")
    offsets = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions("rd-ctp")])["rd-ctp"].result(30)
    total = sum(tp.offset for tp in offsets.topic_partitions if tp.offset >= 0)
    if total != 200:
        fail(f"committed offsets add up to {total}")

    # A second producer with the same transactional id fences the first.
    zombie = producer(bootstrap, "rd-fence-id")
    zombie.begin_transaction()
    send(zombie, "rd-fence", "zombie", 10)
    zombie.flush(30)
    fresh = producer(bootstrap, "rd-fence-id")
    try:
        zombie.commit_transaction(30)
        fail("the fenced producer committed")
    except KafkaException as e:
        err = e.args[0]
        if not (err.fatal() or "fenc" in err.str().lower()):
            fail(f"expected the producer to be fenced, got {err}")
    fresh.begin_transaction()
    send(fresh, "rd-fence", "fresh", 10)
    fresh.commit_transaction(30)
    got, _ = read_all(bootstrap, "rd-fence", 2, "read_committed")
    check_exactly(got, values("fresh", 10), "read_committed after fencing")
    print("OK librdkafka transactions")


if __name__ == "__main__":
    main()
