"""Writes the input of kafka-console-producer for one topic per codec
(lines of "headers<TAB>key<TAB>value", read with parse.headers and parse.key)
and starts EXPECTED with what those records must look like on the wire.

    cli_records.py WORKDIR EXPECTED N codec...
"""
import json
import os
import sys

CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

work, expected_path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
expected = {}
for codec in sys.argv[4:]:
    topic = f"cli-{codec}"
    records = []
    with open(os.path.join(work, f"{topic}.in"), "w") as f:
        for i in range(n):
            value = f"cli {codec} value {i} " + "kafka" * (i % 6)
            key = f"cli-key-{i % 3}"
            headers = [["tool", "console-producer"], ["n", str(i)]]
            f.write(",".join(f"{k}:{v}" for k, v in headers) + f"\t{key}\t{value}\n")
            records.append({"value": value, "key": key, "headers": headers})
    expected[topic] = {"codec": CODEC_IDS[codec], "records": records}
with open(expected_path, "w") as f:
    json.dump(expected, f)
