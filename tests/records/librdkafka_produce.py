"""Produces records with librdkafka (confluent-kafka) to a real broker, one
topic per codec and producer mode, and writes what was sent as JSON so the C++
side can check the batches the broker stored."""
import json
import sys

from confluent_kafka import Producer

bootstrap, expected_path = sys.argv[1], sys.argv[2]
expected = {}
for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
    for idempotent in (False, True):
        topic = f"rk-{codec}-{'idempotent' if idempotent else 'plain'}"
        producer = Producer({
            "bootstrap.servers": bootstrap,
            "compression.codec": codec,
            "enable.idempotence": idempotent,
            "linger.ms": 100,
            "batch.num.messages": 150,
        })
        sent = []
        for i in range(400):
            key = None if i % 7 == 3 else f"key-{i}".encode()
            value = None if i % 11 == 5 else (f"value {i} " * (i % 25)).encode()
            headers = [("h1", f"v{i}".encode()), ("empty", b""), ("null", None)] if i % 3 == 0 else None
            timestamp = 1700000000000 + i * 3
            producer.produce(topic, value=value, key=key, headers=headers, timestamp=timestamp, partition=0)
            sent.append({
                "timestamp": timestamp,
                "key": None if key is None else key.hex(),
                "value": None if value is None else value.hex(),
                "headers": [[k, None if v is None else v.hex()] for k, v in (headers or [])],
            })
            if i % 100 == 99:
                producer.poll(0)
        left = producer.flush(60)
        if left:
            sys.exit(f"{topic}: {left} records not delivered")
        expected[topic] = sent
with open(expected_path, "w") as f:
    json.dump(expected, f)
print(f"librdkafka produced {sum(len(v) for v in expected.values())} records to {len(expected)} topics")
