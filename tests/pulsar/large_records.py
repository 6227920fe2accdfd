"""Records at and past what Pulsar stores, and produces Pulsar cannot persist,
through kwire-broker with librdkafka (confluent-kafka). Run by
large_records.sh, which starts the standalone and the broker.

usage: large_records.py BOOTSTRAP WEB_URL TENANT/NAMESPACE METRICS STEP
  STEP limits  max.message.bytes as Pulsar bounds it; a 5 MiB record refused
               or read back, one just under the limit read back, another topic
               served afterwards
  STEP fault   writes Pulsar cannot persist (its namespace asks for more
               bookies than there are): no produce is acknowledged before
               Pulsar stored it, and each acknowledged record is read back
               once the fault is lifted; the gateway answered the tries it
               could not store with errors (its /metrics at METRICS)
"""
import hashlib
import json
import re
import sys
import time
import urllib.request

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

bootstrap, web, namespace, metrics, step = sys.argv[1:6]
MiB = 1024 * 1024
# BookKeeper's default nettyMaxFrameSizeBytes, which the standalone's bookie
# runs with: a bookie frame holds an entry and a little more.
BOOKIE_FRAME = 5 * MiB


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def admin_rest(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(web + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read()
        return json.loads(text) if text else None


admin = AdminClient({"bootstrap.servers": bootstrap})


def produce_errors():
    """Produce answers the gateway gave with an error, other than refusals
    of the batch itself."""
    text = urllib.request.urlopen(f"http://{metrics}/metrics", timeout=10).read().decode()
    n = 0
    for error, count in re.findall(r'kwire_requests_total\{api="Produce",error="([A-Z_]+)"\} (\d+)', text):
        if error not in ("NONE", "MESSAGE_TOO_LARGE", "CORRUPT_MESSAGE"):
            n += int(count)
    return n


def create(topic, configs=None):
    for _, f in admin.create_topics([NewTopic(topic, 1, 1, config=configs or {})]).items():
        f.result(30)


def topic_config(topic, key):
    for _, f in admin.describe_configs([ConfigResource("topic", topic)]).items():
        return int(f.result(30)[key].value)


def broker_config(key):
    for _, f in admin.describe_configs([ConfigResource("broker", "1")]).items():
        return int(f.result(30)[key].value)


def producer(**extra):
    conf = {"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "linger.ms": 0,
            "message.max.bytes": 12 * MiB}
    conf.update(extra)
    return Producer(conf)


def consumer():
    return Consumer({"bootstrap.servers": bootstrap, "group.id": "large-records", "enable.auto.commit": False,
                     "fetch.max.bytes": 16 * MiB, "max.partition.fetch.bytes": 16 * MiB,
                     "receive.message.max.bytes": 17 * MiB})


def high_watermark(topic):
    c = consumer()
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)[1]
    finally:
        c.close()


def read_all(topic, end):
    """Every record below offset `end`: {offset: value}."""
    c = consumer()
    c.assign([TopicPartition(topic, 0, 0)])
    got = {}
    deadline = time.time() + 60
    while len(got) < end and time.time() < deadline:
        m = c.poll(1)
        if m is None:
            continue
        if m.error():
            fail(f"consuming {topic}: {m.error()}")
        got[m.offset()] = m.value()
    c.close()
    return got


def produce_one(p, topic, value, check_visible=False):
    """Sends one record and waits for its outcome: (error or None, offset).
    With check_visible, the partition's high watermark is read the moment the
    record is acknowledged: an acknowledged record must be readable."""
    out = []

    def done(err, msg):
        hw = high_watermark(topic) if check_visible and err is None else None
        out.append((err, msg.offset(), hw))

    p.produce(topic, value, callback=done)
    while not out:
        p.poll(0.5)
    err, offset, hw = out[0]
    if hw is not None and hw <= offset:
        fail(f"{topic}: offset {offset} acknowledged while the high watermark is {hw}: not stored yet")
    return err, offset


def digest(b):
    return hashlib.sha256(b).hexdigest()[:16]


def limits():
    runtime = admin_rest("GET", "/admin/v2/brokers/configuration/runtime")
    max_message = int(runtime["maxMessageSize"])
    store = min(max_message, BOOKIE_FRAME)
    print(f"Pulsar: maxMessageSize {max_message}, bookie frame {BOOKIE_FRAME}")

    create("big", {"max.message.bytes": str(10 * MiB)})
    limit = topic_config("big", "max.message.bytes")
    print(f"max.message.bytes of a topic configured with {10 * MiB}: {limit}")
    if not store - 64 * 1024 <= limit < store:
        fail(f"max.message.bytes {limit} is not what Pulsar stores (below {store}, by little)")
    if broker_config("message.max.bytes") > limit:
        fail("the broker's message.max.bytes is above what Pulsar stores")
    create("small", {"max.message.bytes": "100000"})
    if topic_config("small", "max.message.bytes") != 100000:
        fail("a max.message.bytes below Pulsar's limit is not reported as configured")

    # One record of 5 MiB: refused before it reaches Pulsar, or stored and
    # read back; never acknowledged and lost. The client's request times
    # out (and is retried) before a lost write would fail in the gateway.
    big = bytes(range(256)) * (5 * MiB // 256)
    p = producer(**{"socket.timeout.ms": 10000, "message.timeout.ms": 60000})
    err, offset = produce_one(p, "big", big, check_visible=True)
    if err is None:
        got = read_all("big", offset + 1).get(offset)
        if got is None or digest(got) != digest(big):
            fail(f"the 5 MiB record was acknowledged at offset {offset} and is not there")
        print(f"5 MiB record stored at offset {offset} and read back")
    elif err.code() != KafkaError.MSG_SIZE_TOO_LARGE:
        fail(f"the 5 MiB record failed with {err}, not MESSAGE_TOO_LARGE")
    else:
        print(f"5 MiB record refused: {err.str()}")

    # Just under the reported limit: Pulsar stores it (the limit is real).
    near = b"n" * (limit - 200)
    p = producer(**{"message.timeout.ms": 60000})
    err, offset = produce_one(p, "big", near, check_visible=True)
    if err is not None:
        fail(f"a record of {len(near)} bytes, under max.message.bytes {limit}, failed: {err}")
    got = read_all("big", offset + 1).get(offset)
    if got is None or digest(got) != digest(near):
        fail(f"the {len(near)}-byte record at offset {offset} does not read back")
    print(f"{len(near)}-byte record stored at offset {offset} and read back")
    other_topic_served("other")


def other_topic_served(topic):
    create(topic)
    p = producer(**{"message.timeout.ms": 60000})
    base = high_watermark(topic)
    for i in range(5):
        err, offset = produce_one(p, topic, f"r{i}".encode())
        if err is not None:
            fail(f"{topic}: a small record failed: {err}")
    got = read_all(topic, base + 5)
    want = {f"r{i}".encode() for i in range(5)}
    if not want <= set(got.values()):
        fail(f"{topic}: records missing: {sorted(want - set(got.values()))}")
    print(f"{topic}: 5 more records stored and read back")


def fault():
    policy = f"/admin/v2/namespaces/{namespace}/persistence"
    topic_path = f"/admin/v2/persistent/{namespace}/faulty-partition-0"
    create("faulty")
    p = producer(**{"message.timeout.ms": 60000})
    err, _ = produce_one(p, "faulty", b"before")
    if err is not None:
        fail(f"a record before the fault failed: {err}")
    p.flush(30)

    # Ledgers of the namespace need two bookies from now on; the standalone
    # has one. Unloaded, the topic cannot open a ledger: Pulsar stores nothing.
    admin_rest("POST", policy, {"bookkeeperEnsemble": 2, "bookkeeperWriteQuorum": 2, "bookkeeperAckQuorum": 2,
                                "managedLedgerMaxMarkDeleteRate": 0})
    admin_rest("PUT", topic_path + "/unload")
    acked, failed = {}, 0
    errors_before = produce_errors()
    # The gateway answers each try once the request's timeout passes; the
    # client retries while the first send still waits on Pulsar.
    p = producer(**{"request.timeout.ms": 3000, "socket.timeout.ms": 20000, "message.timeout.ms": 30000})
    for i in range(3):
        value = f"during-{i}".encode()
        err, offset = produce_one(p, "faulty", value, check_visible=True)
        if err is None:
            acked[offset] = value
        else:
            failed += 1
            print(f"during the fault: {err.str()}")
    if failed == 0:
        fail("no produce failed while Pulsar could not persist: the fault did not hold")
    answered = produce_errors() - errors_before
    if answered < failed:
        fail(f"{failed} records failed, but the gateway answered only {answered} produce tries with an error")
    print(f"the gateway answered {answered} produce tries with an error during the fault")

    admin_rest("DELETE", policy)
    admin_rest("PUT", topic_path + "/unload")
    p = producer(**{"message.timeout.ms": 120000})
    for i in range(3):
        value = f"after-{i}".encode()
        err, offset = produce_one(p, "faulty", value, check_visible=True)
        if err is not None:
            fail(f"a record after the fault was lifted failed: {err}")
        acked[offset] = value
    end = high_watermark("faulty")
    got = read_all("faulty", end)
    for offset, value in sorted(acked.items()):
        if got.get(offset) != value:
            fail(f"{value!r} was acknowledged at offset {offset}; the log has {got.get(offset)!r} there")
    print(f"{failed} produce(s) refused during the fault; {len(acked)} acknowledged record(s) all read back")
    other_topic_served("other-after-fault")


{"limits": limits, "fault": fault}[step]()
