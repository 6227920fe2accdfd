"""Checks the output of kwire-decode over captured Kafka traffic.

    check_capture.py DECODED_DIR EXPECTED [SHARE_TOPIC...]

DECODED_DIR holds one conn-<n>.json per connection (kwire-decode's JSON
lines). EXPECTED maps topic -> {"codec": id, "records": [{value, key,
headers}]}: every one of those records must appear, with its key and headers,
in a Produce request and in a Fetch response, in batches compressed with that
codec; the records of every SHARE_TOPIC must also be in ShareFetch responses.
Prints a table of the APIs and versions seen; fails unless every API in
REQUIRED was seen with a response, and unless every frame round-tripped.
"""
import collections
import glob
import json
import os
import sys

# The APIs the scripted clients cannot do without (by key).
REQUIRED = {
    0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit", 9: "OffsetFetch",
    10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup",
    15: "DescribeGroups", 16: "ListGroups", 18: "ApiVersions", 19: "CreateTopics", 20: "DeleteTopics",
    21: "DeleteRecords", 22: "InitProducerId", 24: "AddPartitionsToTxn", 26: "EndTxn",
    # The broker writes the transaction markers to itself through its advertised listener.
    27: "WriteTxnMarkers",
    32: "DescribeConfigs", 35: "DescribeLogDirs", 37: "CreatePartitions", 42: "DeleteGroups",
    44: "IncrementalAlterConfigs", 55: "DescribeQuorum", 60: "DescribeCluster", 65: "DescribeTransactions",
    66: "ListTransactions", 68: "ConsumerGroupHeartbeat", 69: "ConsumerGroupDescribe",
    75: "DescribeTopicPartitions", 25: "AddOffsetsToTxn", 28: "TxnOffsetCommit",
    76: "ShareGroupHeartbeat", 77: "ShareGroupDescribe", 78: "ShareFetch", 79: "ShareAcknowledge",
    90: "DescribeShareGroupOffsets",
    # The broker's share coordinator, also through the advertised listener.
    83: "InitializeShareGroupState", 84: "ReadShareGroupState", 85: "WriteShareGroupState",
    87: "ReadShareGroupStateSummary",
}
CODEC_NAMES = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}

decoded_dir, expected_path, share_topics = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(expected_path) as f:
    expected = json.load(f)

problems = []
frames = []
for path in sorted(glob.glob(os.path.join(decoded_dir, "conn-*.json"))):
    conn = os.path.basename(path)[:-5]
    with open(path) as f:
        for line in f:
            j = json.loads(line)
            j["_conn"] = conn
            frames.append(j)
if not frames:
    sys.exit("check: no decoded frames")



def librdkafka_metadata_quirk(j):
    """librdkafka asks for all topics (Metadata v9+, Topics null) leaving the
    4-byte placeholder of the array count in place: a compact null (0) and
    three more zero bytes, then its own AllowAutoTopicCreation,
    IncludeTopicAuthorizedOperations and empty tagged fields. Kafka reads the
    zeros as false, false and no tagged fields, and ignores the last three
    bytes; kwire reads the same and shows those three as trailing."""
    t = j.get("trailingBytes", "")
    return (j["direction"] == "request" and j.get("apiKey") == 3 and j.get("apiVersion", 0) >= 9
            and j.get("clientId") == "rdkafka" and j["body"].get("Topics") is None
            and j["body"].get("AllowAutoTopicCreation") is False
            and j["body"].get("IncludeTopicAuthorizedOperations") is False
            and len(t) == 6 and t[0:2] in ("00", "01") and t[2:4] in ("00", "01") and t[4:6] == "00")


# Every frame decoded and re-encoded to the same bytes; bytes after a body
# only where a known client sends them.
quirks = collections.Counter()
for j in frames:
    if "error" in j or j.get("roundtrip") is not True:
        problems.append(f"{j['_conn']} {j.get('direction')} at {j.get('offset')}: "
                        f"{j.get('error') or 'did not round-trip'}")
    if "trailingBytes" in j:
        if librdkafka_metadata_quirk(j):
            quirks["librdkafka Metadata request for all topics with its last 3 bytes after the body"] += 1
        else:
            problems.append(f"{j['_conn']} {j['direction']} {j.get('api')} v{j.get('apiVersion')} at "
                            f"{j.get('offset')}: unexpected bytes after the body: {j['trailingBytes']}")


def walk(node, fn):
    if isinstance(node, dict):
        fn(node)
        for v in node.values():
            walk(v, fn)
    elif isinstance(node, list):
        for v in node:
            walk(v, fn)


# Topic ids (Produce v13 and Fetch v13+ name topics by id) from every response
# that pairs a name with an id (Metadata, CreateTopics, DescribeTopicPartitions).
topic_names = {}


def learn_ids(o):
    if isinstance(o.get("TopicId"), str) and isinstance(o.get("Name"), str):
        topic_names[o["TopicId"]] = o["Name"]


for j in frames:
    if j["direction"] == "response":
        walk(j.get("body"), learn_ids)


def record_sets(node, topic=None):
    """Yields (topic, records json) for every record set under node."""
    if isinstance(node, dict):
        # Produce: TopicData[].Name (v0-12) or .TopicId (v13+), PartitionData[].Records;
        # Fetch: Responses[].Topic (v0-12) or .TopicId (v13+), Partitions[].Records.
        if "PartitionData" in node or "Partitions" in node:
            for k in ("Name", "Topic"):
                if isinstance(node.get(k), str):
                    topic = node[k]
            if isinstance(node.get("TopicId"), str):
                topic = topic_names.get(node["TopicId"], node["TopicId"])
        if isinstance(node.get("Records"), dict) and "batches" in node["Records"]:
            yield topic, node["Records"]
        for k, v in node.items():
            if k != "Records":
                yield from record_sets(v, topic)
    elif isinstance(node, list):
        for v in node:
            yield from record_sets(v, topic)


def collect(direction, api_key):
    """topic -> value -> [(codec, record)]"""
    out = collections.defaultdict(lambda: collections.defaultdict(list))
    for j in frames:
        if j["direction"] != direction or j.get("apiKey") != api_key:
            continue
        for topic, rs in record_sets(j.get("body")):
            if "error" in rs:
                problems.append(f"{j['_conn']} {direction} {j.get('api')}: record set: {rs['error']}")
            for b in rs["batches"]:
                for r in b["records"]:
                    if isinstance(r.get("value"), str):
                        out[topic][r["value"]].append((b.get("compression"), r))
    return out


produced = collect("request", 0)
fetched = collect("response", 1)
share_fetched = collect("response", 78)


def norm_headers(r):
    return [[h["key"], h["value"]] for h in r.get("headers", [])]


for topic, exp in sorted(expected.items()):
    places = [("Produce requests", produced), ("Fetch responses", fetched)]
    if topic in share_topics:
        places.append(("ShareFetch responses", share_fetched))
    for where, seen in places:
        missing = 0
        for e in exp["records"]:
            hits = seen.get(topic, {}).get(e["value"], [])
            if not hits:
                missing += 1
                continue
            for codec, r in hits:
                if codec != exp["codec"]:
                    problems.append(f"{topic}: {e['value']!r} in {where} compressed with "
                                    f"{CODEC_NAMES.get(codec, codec)}, not {CODEC_NAMES[exp['codec']]}")
                if r.get("key") != e["key"] or norm_headers(r) != e["headers"]:
                    problems.append(f"{topic}: {e['value']!r} in {where} has key {r.get('key')!r} and headers "
                                    f"{norm_headers(r)}, not {e['key']!r} and {e['headers']}")
        if missing:
            problems.append(f"{topic}: {missing} of {len(exp['records'])} records not in {where}")
    print(f"{topic:>12}: {len(exp['records'])} records sent with {CODEC_NAMES[exp['codec']]}; "
          f"in Produce requests: {sum(bool(produced.get(topic, {}).get(e['value'])) for e in exp['records'])}, "
          f"in Fetch responses: {sum(bool(fetched.get(topic, {}).get(e['value'])) for e in exp['records'])}"
          + (f", in ShareFetch responses: "
             f"{sum(bool(share_fetched.get(topic, {}).get(e['value'])) for e in exp['records'])}"
             if topic in share_topics else ""))

# The table of APIs and versions.
requests = collections.Counter()
responses = collections.Counter()
names = {}
clients = collections.Counter()
for j in frames:
    if "apiKey" not in j:
        continue
    k = (j["apiKey"], j["apiVersion"])
    names[j["apiKey"]] = j.get("api", "?")
    if j["direction"] == "request":
        requests[k] += 1
        clients[j.get("clientId")] += 1
    else:
        responses[k] += 1
print(f"\n{'key':>4}  {'api':<28} {'version':>7} {'requests':>9} {'responses':>10}")
for k in sorted(set(requests) | set(responses)):
    print(f"{k[0]:>4}  {names[k[0]]:<28} {k[1]:>7} {requests[k]:>9} {responses[k]:>10}")
apis = {k for k, _ in requests}
print(f"\n{len(frames)} frames: {sum(requests.values())} requests, {sum(responses.values())} responses; "
      f"{len(apis)} APIs in {len(set(requests))} API versions; {len(clients)} client ids")

for what, n in quirks.items():
    print(f"accepted: {n} x {what}")

answered = {k for k, _ in responses}
for key, name in sorted(REQUIRED.items()):
    if key not in answered:
        problems.append(f"no {name} (API {key}) request with a response was seen")

if problems:
    print(f"\n{len(problems)} problems:", file=sys.stderr)
    for p in problems[:200]:
        print("  " + p, file=sys.stderr)
    sys.exit(1)
print("capture: all checks passed")
