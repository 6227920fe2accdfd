"""Log compaction seen by real clients: librdkafka (confluent-kafka) writes a
compacted topic (an idempotent producer with gzip, tombstones, an aborted and a
committed transaction), then both librdkafka and kafka-python read it until
it holds exactly the newest record of each key at the offset it was written
at, the tombstones gone after delete.retention.ms and the aborted records
gone too, as Kafka's log cleaner leaves a log.

    python compaction.py write BOOTSTRAP STATE   # write, wait for the result
    python compaction.py check BOOTSTRAP STATE   # read it again (a restart)
"""
import json
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer
from kafka import TopicPartition as KTopicPartition

TOPIC = "compacted"
KEYS = 200
ROUNDS = 5
TOMBSTONES = 20
DEADLINE_S = 120


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def delivered_offsets(p, sends):
    """Produces (key, value) pairs; returns {(key, value): offset} from the
    delivery reports."""
    out = {}
    errors = []

    def report(err, msg):
        if err:
            errors.append(err)
        else:
            out[(msg.key().decode(), None if msg.value() is None else msg.value().decode())] = msg.offset()

    for key, value in sends:
        p.produce(TOPIC, key=key, value=value, on_delivery=report)
        p.poll(0)
    p.flush(30)
    if errors:
        fail(f"produce failed: {errors[:3]}")
    return out


def read_librdkafka(bootstrap):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"compaction-{time.time()}",
                  "enable.auto.commit": False, "isolation.level": "read_committed"})
    tp = TopicPartition(TOPIC, 0, 0)
    c.assign([tp])
    end = c.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=30)[1]
    out = []
    position = 0
    idle = 0
    while position < end and idle < 20:
        m = c.poll(0.5)
        if m is None:
            idle += 1
            continue
        if m.error():
            fail(f"librdkafka: {m.error()}")
        out.append([m.offset(), m.key().decode(), None if m.value() is None else m.value().decode()])
        position = m.offset() + 1
    c.close()
    return out, end


def read_kafka_python(bootstrap, end):
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=5000)
    tp = KTopicPartition(TOPIC, 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    out = []
    for m in c:
        out.append([m.offset, m.key.decode(), None if m.value is None else m.value.decode()])
        if m.offset + 1 >= end:
            break
    c.close()
    return out


def write(bootstrap, state_file):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    configs = {"cleanup.policy": "compact", "segment.ms": "100", "min.cleanable.dirty.ratio": "0.01",
               "delete.retention.ms": "2000"}
    for f in admin.create_topics([NewTopic(TOPIC, 1, 1, config=configs)]).values():
        f.result()

    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "compression.type": "gzip",
                  "linger.ms": 5})
    newest = {}
    for r in range(ROUNDS):
        sent = delivered_offsets(p, [(f"k{k}", f"v{r}-{k}") for k in range(KEYS)])
        for (key, value), off in sent.items():
            newest[key] = [off, key, value]
        time.sleep(0.15)  # past segment.ms: the next append starts a new ledger
    delivered_offsets(p, [(f"k{k}", None) for k in range(TOMBSTONES)])
    for k in range(TOMBSTONES):
        del newest[f"k{k}"]  # once their horizon has passed, nothing of them is left

    t = Producer({"bootstrap.servers": bootstrap, "transactional.id": "compaction-txn", "linger.ms": 5})
    t.init_transactions(30)
    t.begin_transaction()
    t.produce(TOPIC, key="k50", value="aborted")
    t.flush(30)
    t.abort_transaction(30)
    t.begin_transaction()
    committed = delivered_offsets(t, [("k51", "committed")])
    t.commit_transaction(30)
    newest["k51"] = [committed[("k51", "committed")], "k51", "committed"]

    time.sleep(0.15)
    last = delivered_offsets(p, [("last", "x")])
    newest["last"] = [last[("last", "x")], "last", "x"]
    expected = sorted(newest.values())

    deadline = time.time() + DEADLINE_S
    while True:
        got, end = read_librdkafka(bootstrap)
        if got == expected:
            break
        if time.time() > deadline:
            keys = [g[1] for g in got]
            fail(f"not compacted after {DEADLINE_S}s: {len(got)} records (expected {len(expected)}), "
                 f"{len(keys) - len(set(keys))} duplicate keys, first {got[:3]}, expected first {expected[:3]}")
        time.sleep(1)
    print(f"compacted: {len(got)} records left of {ROUNDS * KEYS + TOMBSTONES + 3}, log end {end}")
    with open(state_file, "w") as f:
        json.dump({"expected": expected, "end": end}, f)
    check(bootstrap, state_file)


def check(bootstrap, state_file):
    with open(state_file) as f:
        state = json.load(f)
    expected, end = state["expected"], state["end"]
    got, now_end = read_librdkafka(bootstrap)
    if now_end != end:
        fail(f"log end moved: {end} -> {now_end}")
    if got != expected:
        fail(f"librdkafka reads {len(got)} records, expected {len(expected)}: {got[:3]} ...")
    got = read_kafka_python(bootstrap, end)
    if got != expected:
        fail(f"kafka-python reads {len(got)} records, expected {len(expected)}: {got[:3]} ...")
    print(f"both clients read the {len(expected)} records left, at their offsets")


if __name__ == "__main__":
    {"write": write, "check": check}[sys.argv[1]](sys.argv[2], sys.argv[3])
