"""librdkafka (confluent-kafka) through the capturing proxy: an admin client
creates the topics, producers send keyed records with headers under every
codec (some idempotent, one transactional with a committed and an aborted
transaction), a consumer group reads everything back, and the admin client
looks at the group. Appends what must be seen on the wire to EXPECTED."""
import json
import sys
import time

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

bootstrap, expected_path = sys.argv[1], sys.argv[2]
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
N = 60


def wait_all(futures, what):
    for key, f in futures.items():
        try:
            f.result(30)
        except KafkaException as e:
            sys.exit(f"librdkafka {what} {key}: {e}")


admin = AdminClient({"bootstrap.servers": bootstrap})
topics = [f"rk-{c}" for c in CODECS] + ["rk-txn"]
wait_all(admin.create_topics([NewTopic(t, num_partitions=2, replication_factor=1) for t in topics]), "create topic")
time.sleep(1)

expected = {}
for codec, codec_id in CODECS.items():
    topic = f"rk-{codec}"
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "compression.codec": codec,
        "enable.idempotence": codec in ("lz4", "zstd"),
        "linger.ms": 50,
        "acks": "all",
    })
    records = []
    for i in range(N):
        # librdkafka sends a batch uncompressed when compressing does not make
        # it smaller (it may hold a single record): every value ends with a
        # run that any codec shrinks.
        value = f"rk {codec} value {i} " + "abc" * (i % 9) + "z" * 96
        key = f"rk-key-{i % 5}"
        headers = [("source", b"librdkafka"), ("index", str(i).encode())] if i % 2 == 0 else []
        producer.produce(topic, value=value.encode(), key=key.encode(), headers=headers or None)
        records.append({"value": value, "key": key, "headers": [[k, v.decode()] for k, v in headers]})
    if producer.flush(60):
        sys.exit(f"librdkafka: {topic}: records not delivered")
    expected[topic] = {"codec": codec_id, "records": records}

# Transactions: the first one commits, with a consumer group's offset (as a
# consume-transform-produce loop would), the second aborts.
txp = Producer({"bootstrap.servers": bootstrap, "transactional.id": "rk-tx", "compression.codec": "lz4"})
txp.init_transactions(30)
offsets_group = Consumer({"bootstrap.servers": bootstrap, "group.id": "rk-txn-offsets"})
committed = []
for outcome in ("commit", "abort"):
    txp.begin_transaction()
    for i in range(10):
        value = f"rk txn {outcome} {i}"
        txp.produce("rk-txn", value=value.encode(), key=f"t{i}".encode())
        if outcome == "commit":
            committed.append({"value": value, "key": f"t{i}", "headers": []})
    txp.flush(30)
    if outcome == "commit":
        txp.send_offsets_to_transaction([TopicPartition("rk-none", 0, 1)],
                                        offsets_group.consumer_group_metadata(), 30)
        txp.commit_transaction(30)
    else:
        txp.abort_transaction(30)
expected["rk-txn"] = {"codec": CODECS["lz4"], "records": committed}
offsets_group.close()


def consume(group, extra):
    want = {r["value"] for t in expected.values() for r in t["records"]}
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        **extra,
    })
    consumer.subscribe(topics)
    seen = set()
    deadline = time.time() + 90
    while want - seen and time.time() < deadline:
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            sys.exit(f"librdkafka consumer {group}: {msg.error()}")
        v = msg.value().decode()
        if v.startswith("rk txn abort"):
            sys.exit(f"librdkafka consumer {group}: read an aborted record: {v}")
        seen.add(v)
    consumer.commit(asynchronous=False)
    consumer.close()
    if want - seen:
        sys.exit(f"librdkafka consumer {group}: {len(want - seen)} records never arrived")
    print(f"librdkafka consumer {group}: {len(seen)} records")


consume("rk-group", {})
consume("rk-group-848", {"group.protocol": "consumer"})

# A look at the group and a topic's configuration.
wait_all(admin.describe_consumer_groups(["rk-group", "rk-group-848"]), "describe group")
groups = admin.list_consumer_groups().result(30)
if not {"rk-group", "rk-group-848"} <= {g.group_id for g in groups.valid}:
    sys.exit("librdkafka: groups missing from list_consumer_groups")
wait_all(admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions("rk-group")]),
         "list group offsets")
wait_all(admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "rk-zstd")]), "describe configs")
admin.list_topics(timeout=30)

with open(expected_path) as f:
    all_expected = json.load(f)
all_expected.update(expected)
with open(expected_path, "w") as f:
    json.dump(all_expected, f)
print(f"librdkafka: produced {sum(len(t['records']) for t in expected.values())} records to {len(expected)} topics")
