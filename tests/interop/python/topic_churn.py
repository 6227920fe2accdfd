"""Topic churn: a few topics are created, deleted and created again, over and
over, while other clients produce to them, fetch from them, commit offsets in
a group and ask for their metadata, offsets and record deletion, all at once
and through librdkafka (confluent-kafka). The broker must answer all of it
with Kafka errors at worst: no client may lose its connection. Afterwards a
plain produce and consume must work on every churned topic and a new one.

    python topic_churn.py BOOTSTRAP SECONDS [METRICS_URL]

Prints what each kind of client got; exits non-zero on a failure. CHURN_SEED
replays the clients' choices of a printed run (not its threads' timing).
"""
import faulthandler
import os
import random
import sys
import threading
import time
import urllib.request
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

T0 = time.monotonic()
TOPICS = [f"churn-{i}" for i in range(4)]
MAX_PARTITIONS = 3

# Errors a client may see while the topic it uses comes and goes. Anything
# else (a lost connection above all) fails the test.
EXPECTED = {
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError.TOPIC_ALREADY_EXISTS,
    KafkaError.OFFSET_OUT_OF_RANGE,  # DeleteRecords moved the log start
    # A commit racing a rebalance, which every topic deletion starts.
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.REBALANCE_IN_PROGRESS,
    # librdkafka's own verdicts when a topic or partition leaves its metadata:
    # records queued for it are failed, lookups find nothing.
    KafkaError._UNKNOWN_TOPIC,
    KafkaError._UNKNOWN_PARTITION,
    KafkaError._DESTROY,
    KafkaError._MSG_TIMED_OUT,
    KafkaError._NOENT,
    KafkaError._NO_OFFSET,
}
# What librdkafka reports when a connection drops: never expected here.
DISCONNECTS = {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN}


class Stats:
    def __init__(self, stop):
        self.stop = stop
        self.lock = threading.Lock()
        self.counts = {}
        self.failures = []

    def count(self, what, n=1):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def fail(self, what):
        what = f"{what} (at {time.monotonic() - T0:.1f}s)"
        with self.lock:
            if len(self.failures) < 20:
                self.failures.append(what)

    def error(self, who, err):
        """Counts an expected KafkaError, records any other as a failure.
        Once the churn stops, clients close: what librdkafka reports then
        (records dropped, its broker threads going down) is only counted."""
        code = err.code() if isinstance(err, KafkaError) else None
        if self.stop.is_set():
            self.count(f"{who} at close: {getattr(err, 'name', lambda: repr(err))()}")
        elif code in EXPECTED:
            self.count(f"{who}: {err.name()}")
        else:
            self.fail(f"{who}: {err}")


def kafka_error(exc):
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0]
    return exc


def common(bootstrap, stats, who):
    def on_error(err):
        # Errors librdkafka raises outside of any one request: a lost
        # connection is what this test is about.
        if err.code() in DISCONNECTS and not stats.stop.is_set():
            stats.fail(f"{who}: connection error: {err}")
        else:
            stats.error(who, err)

    # log_level 3: librdkafka's notices about offsets reset and partition
    # counts changed are the churn itself; its errors still show.
    return {"bootstrap.servers": bootstrap, "error_cb": on_error, "log_level": 3,
            "topic.metadata.refresh.interval.ms": 500, "socket.timeout.ms": 60000}


def close_consumer(c, stats, who):
    """Consumer.close() may hang inside librdkafka after a topic the consumer
    read was deleted, even once the group is left and every request answered
    (a client issue, not the broker's): not waited for past 30 s."""
    t = threading.Thread(target=c.close, daemon=True)
    t.start()
    t.join(30)
    if t.is_alive():
        stats.count(f"{who} at close: close() left running")


def churner(bootstrap, stats, stop, rnd):
    admin = AdminClient(common(bootstrap, stats, "churn"))
    while not stop.is_set():
        topic = rnd.choice(TOPICS)
        if rnd.random() < 0.5:
            fut = admin.create_topics([NewTopic(topic, num_partitions=rnd.randint(1, MAX_PARTITIONS),
                                                replication_factor=1)], operation_timeout=10)
            what = "created"
        else:
            fut = admin.delete_topics([topic], operation_timeout=10)
            what = "deleted"
        try:
            fut[topic].result(30)
            stats.count(what)
        except Exception as e:  # noqa: BLE001 - sorted by stats.error
            stats.error("churn", kafka_error(e))


def producer(bootstrap, stats, stop, rnd):
    def delivered(err, _msg):
        if err is None:
            stats.count("delivered")
        else:
            stats.error("produce", err)

    p = Producer({**common(bootstrap, stats, "produce"), "acks": "all", "linger.ms": 2,
                  "message.timeout.ms": 10000, "allow.auto.create.topics": False})
    i = 0
    while not stop.is_set():
        try:
            p.produce(rnd.choice(TOPICS), key=str(i), value=os.urandom(rnd.randint(10, 2000)), on_delivery=delivered)
        except BufferError:
            p.poll(0.1)
        except KafkaException as e:
            stats.error("produce", kafka_error(e))
        i += 1
        # A few hundred records a second: enough to keep appends going,
        # not so many that records for missing topics pile up client-side.
        p.poll(0.003)
    # Records still waiting for a topic that is gone are dropped, not waited for.
    p.purge()
    p.flush(30)


def assigner(bootstrap, stats, stop, rnd):
    """Fetches from every partition that may exist, reassigning now and then."""
    c = Consumer({**common(bootstrap, stats, "fetch"), "group.id": "churn-assign-" + uuid.uuid4().hex,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest", "fetch.wait.max.ms": 200})
    while not stop.is_set():
        c.assign([TopicPartition(t, p) for t in TOPICS for p in range(MAX_PARTITIONS)])
        until = time.time() + rnd.uniform(0.5, 3)
        while time.time() < until and not stop.is_set():
            for m in c.consume(100, 0.2):
                if m.error():
                    stats.error("fetch", m.error())
                else:
                    stats.count("fetched")
    close_consumer(c, stats, "fetch")


def member(bootstrap, stats, stop, rnd):
    """A group member subscribed to the churned topics, committing as it goes."""
    c = Consumer({**common(bootstrap, stats, "group"), "group.id": "churn-group",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000})
    c.subscribe(["^churn-[0-9]+$"])
    while not stop.is_set():
        msgs = c.consume(100, 0.5)
        for m in msgs:
            if m.error():
                stats.error("group", m.error())
            else:
                stats.count("consumed in group")
        if msgs and rnd.random() < 0.5:
            try:
                c.commit(asynchronous=False)
                stats.count("committed")
            except KafkaException as e:
                stats.error("group", kafka_error(e))
    close_consumer(c, stats, "group")


def inspector(bootstrap, stats, stop, rnd):
    """Metadata, ListOffsets and DeleteRecords on whatever exists right now."""
    admin = AdminClient(common(bootstrap, stats, "inspect"))
    specs = [OffsetSpec.earliest(), OffsetSpec.latest(), OffsetSpec.max_timestamp()]
    while not stop.is_set():
        try:
            md = admin.list_topics(timeout=10)
            stats.count("metadata")
        except KafkaException as e:
            stats.error("inspect", kafka_error(e))
            continue
        topic = rnd.choice(TOPICS)
        parts = list(md.topics[topic].partitions) if topic in md.topics else [0]
        tp = TopicPartition(topic, rnd.choice(parts or [0]))
        try:
            admin.list_offsets({tp: rnd.choice(specs)}, request_timeout=10)[tp].result(30)
            stats.count("listed offsets")
        except KafkaException as e:
            stats.error("inspect", kafka_error(e))
        if rnd.random() < 0.3:
            # -1: up to the high watermark (all records so far).
            tp = TopicPartition(tp.topic, tp.partition, -1)
            try:
                admin.delete_records([tp], request_timeout=10, operation_timeout=10)[tp].result(30)
                stats.count("deleted records")
            except KafkaException as e:
                stats.error("inspect", kafka_error(e))


def scraper(url, stats, stop, _rnd):
    """Reads /metrics, whose gauges walk the catalog and the groups."""
    while not stop.is_set():
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                if b"kwire_partitions" not in r.read():
                    stats.fail("metrics: no kwire_partitions gauge")
            stats.count("scraped")
        except OSError as e:
            stats.fail(f"metrics: {e}")
        stop.wait(0.2)


def run_worker(fn, arg, stats, stop, seed):
    try:
        fn(arg, stats, stop, random.Random(seed))
    except Exception as e:  # noqa: BLE001 - any escape is a failure
        stats.fail(f"{fn.__name__} crashed: {e!r}")


def produce_and_consume(bootstrap, topic, n=200):
    """A plain round trip on `topic` (created if missing, kept if it exists:
    a churned topic may hold records already); returns what went wrong."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(30)
    except Exception as e:  # noqa: BLE001 - a timeout too means the broker is gone
        if not isinstance(kafka_error(e), KafkaError) or kafka_error(e).code() != KafkaError.TOPIC_ALREADY_EXISTS:
            return f"create {topic}: {e!r}"
    mark = uuid.uuid4().hex
    want = {f"{mark}-{i}".encode() for i in range(n)}
    errors = []
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
    for v in want:
        p.produce(topic, value=v, on_delivery=lambda err, _m: err and errors.append(err))
    if p.flush(60) != 0 or errors:
        return f"produce to {topic}: {errors[:3]}"
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "after-" + mark, "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got = set()
    deadline = time.time() + 60
    while len(got) < n and time.time() < deadline:
        for m in c.consume(100, 1.0):
            if m.error():
                return f"consume {topic}: {m.error()}"
            if m.value().startswith(mark.encode()):  # not the churn's records
                got.add(m.value())
    c.close()
    if got != want:
        return f"consumed {len(got)} of {n} records from {topic}"
    return None


def main():
    bootstrap, seconds = sys.argv[1], float(sys.argv[2])
    metrics = sys.argv[3] if len(sys.argv) > 3 else None
    seed = int(os.environ.get("CHURN_SEED", random.randrange(1 << 30)))
    print(f"topic churn on {bootstrap} for {seconds:.0f}s, seed {seed}", flush=True)
    stop = threading.Event()
    stats = Stats(stop)
    workers = [(churner, bootstrap)] * 2 + [(producer, bootstrap)] * 2 + [(assigner, bootstrap)] * 2
    workers += [(member, bootstrap), (inspector, bootstrap)]
    if metrics:
        workers.append((scraper, metrics))
    threads = [threading.Thread(target=run_worker, args=(fn, arg, stats, stop, seed + i), daemon=True,
                                name=f"{fn.__name__}-{i}") for i, (fn, arg) in enumerate(workers)]
    for t in threads:
        t.start()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join(90)
        if t.is_alive():
            stats.fail(f"client {t.name} did not stop")
            faulthandler.dump_traceback(all_threads=True)
    print("clients stopped", flush=True)

    for what, n in sorted(stats.counts.items()):
        print(f"  {what}: {n}")
    # The run must have done what it is about, or it proves nothing.
    for what in ("created", "deleted", "delivered", "metadata", "listed offsets"):
        if not stats.counts.get(what):
            stats.fail(f"nothing {what} during the run")

    # Afterwards: every churned topic as the churn left it (made again if
    # it was deleted last) and a new one take records and give them back.
    for topic in TOPICS + ["after-churn"]:
        if why := produce_and_consume(bootstrap, topic):
            stats.fail(f"afterwards: {why}")
        else:
            print(f"afterwards: {topic} takes and returns records", flush=True)

    if stats.failures:
        for f in stats.failures:
            print("FAIL:", f, file=sys.stderr)
    else:
        print("topic churn: only Kafka errors, and a produce and consume work afterwards")
    sys.stdout.flush()
    sys.stderr.flush()
    # Not sys.exit: a close() left running would hold up the interpreter's exit.
    os._exit(1 if stats.failures else 0)


if __name__ == "__main__":
    main()
