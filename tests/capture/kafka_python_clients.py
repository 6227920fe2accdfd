"""kafka-python through the capturing proxy: its admin client creates topics
and describes the cluster, configs and groups; a producer sends keyed records
with headers uncompressed and with gzip (the codecs it needs no extra module
for); a consumer group reads them back. Then the admin client goes through
more of the protocol: log dirs, configs, partitions, records, transactions,
the metadata quorum, features, topic and group deletion. Appends what must be
seen on the wire to EXPECTED."""
import json
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

bootstrap, expected_path = sys.argv[1], sys.argv[2]
CODECS = {"none": (None, 0), "gzip": ("gzip", 1)}
N = 40

admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="kp-admin")
topics = [f"kp-{c}" for c in CODECS]
admin.create_topics({t: {"num_partitions": 2, "replication_factor": 1} for t in topics}, wait_for_metadata=True)
admin.describe_topics(topics)
admin.describe_cluster()
admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topics[0])], config_filter="all")

expected = {}
for codec, (kp_codec, codec_id) in CODECS.items():
    topic = f"kp-{codec}"
    producer = KafkaProducer(bootstrap_servers=bootstrap, compression_type=kp_codec, acks="all",
                             linger_ms=20, client_id=f"kp-producer-{codec}")
    records = []
    for i in range(N):
        value = f"kp {codec} value {i} " + "xyz" * (i % 7)
        key = f"kp-key-{i % 4}"
        headers = [("lang", b"python"), ("i", str(i).encode())] if i % 3 == 0 else []
        producer.send(topic, value=value.encode(), key=key.encode(), headers=headers)
        records.append({"value": value, "key": key, "headers": [[k, v.decode()] for k, v in headers]})
    producer.flush(60)
    producer.close()
    expected[topic] = {"codec": codec_id, "records": records}

want = {r["value"] for t in expected.values() for r in t["records"]}
consumer = KafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id="kp-group", client_id="kp-consumer",
                         auto_offset_reset="earliest", enable_auto_commit=False)
seen = set()
deadline = time.time() + 90
while want - seen and time.time() < deadline:
    for batch in consumer.poll(timeout_ms=1000).values():
        for msg in batch:
            seen.add(msg.value.decode())
consumer.commit()
consumer.close()
if want - seen:
    sys.exit(f"kafka-python consumer: {len(want - seen)} records never arrived")
print(f"kafka-python consumer kp-group: {len(seen)} records")

groups = {g["group_id"] if isinstance(g, dict) else g[0] for g in admin.list_groups()}
if "kp-group" not in groups:
    sys.exit(f"kafka-python: kp-group missing from list_groups: {sorted(groups)}")
admin.describe_groups(["kp-group"])
admin.list_group_offsets({"kp-group": None})

# More of the protocol, each call checked by the client against the broker's answer.
admin.describe_log_dirs()
admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "kp-none", {"retention.ms": "86400000"})])
admin.create_topics({"kp-scratch": {"num_partitions": 1, "replication_factor": 1}}, wait_for_metadata=True)
admin.create_partitions({"kp-scratch": 2})
admin.delete_records({TopicPartition("kp-none", 0): 1})
admin.list_transactions()
admin.describe_transactions(["rk-tx"])
admin.describe_metadata_quorum()
admin.describe_features()
admin.delete_topics(["kp-scratch"])
admin.delete_groups(["rk-group"])
admin.close()

with open(expected_path) as f:
    all_expected = json.load(f)
all_expected.update(expected)
with open(expected_path, "w") as f:
    json.dump(all_expected, f)
print(f"kafka-python: produced {sum(len(t['records']) for t in expected.values())} records to {len(expected)} topics")
