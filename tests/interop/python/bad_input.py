"""Malformed input against kwire-broker: each bad connection gets an error
response or is closed, and the broker keeps serving everyone else.

    python bad_input.py HOST:PORT [METRICS_HOST:PORT]
"""
import os
import socket
import struct
import sys
import urllib.request


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def connect(addr):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    return s


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_frame(s):
    head = recv_exact(s, 4)
    if head is None:
        return None
    (size,) = struct.unpack(">i", head)
    return recv_exact(s, size)


def request(api_key, version, correlation, body=b"", flexible=False, client=b"bad-input"):
    header = struct.pack(">hhih", api_key, version, correlation, len(client)) + client
    if flexible:
        header += b"\x00"  # no tagged fields
    msg = header + body
    return struct.pack(">i", len(msg)) + msg


def api_versions(s, correlation):
    # ApiVersions v3: flexible; body = client software name and version (compact strings) + tags.
    body = b"\x06kwire" + b"\x041.0" + b"\x00"
    s.sendall(request(18, 3, correlation, body, flexible=True))
    frame = read_frame(s)
    if frame is None:
        fail("ApiVersions got no answer")
    (corr, error) = struct.unpack(">ih", frame[:6])
    if corr != correlation or error != 0:
        fail(f"ApiVersions answer: correlation {corr}, error {error}")
    return frame


def expect_closed(s, what):
    s.settimeout(10)
    try:
        data = s.recv(1 << 16)
    except ConnectionResetError:
        data = b""
    if data:
        fail(f"{what}: expected the connection to close, got {data[:40]!r}")
    s.close()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def zigzag_varint(v):
    v = (v << 1) ^ (v >> 63)
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def record_batch(values, timestamp=1_700_000_000_000):
    """A magic-2 batch of uncompressed records (keys null, no headers)."""
    records = b""
    for i, value in enumerate(values):
        body = b"\x00" + zigzag_varint(0) + zigzag_varint(i) + zigzag_varint(-1) + zigzag_varint(len(value)) + value
        body += zigzag_varint(0)
        records += zigzag_varint(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", 0, len(values) - 1, timestamp, timestamp, -1, -1, -1, len(values)) + records
    crc = crc32c(after_crc)
    tail = struct.pack(">ibI", 0, 2, crc) + after_crc  # leader epoch, magic, crc
    return struct.pack(">qi", 0, len(tail)) + tail


def produce_v3(topic, batch, correlation):
    t = topic.encode()
    body = struct.pack(">hhi", -1, -1, 5000)  # null transactional id, acks=all, timeout
    body += struct.pack(">i", 1) + struct.pack(">h", len(t)) + t
    body += struct.pack(">i", 1) + struct.pack(">i", 0) + struct.pack(">i", len(batch)) + batch
    return request(0, 3, correlation, body)


def produce_error(s, topic, batch, correlation):
    """Sends Produce v3 and returns (error code, base offset) of partition 0."""
    s.sendall(produce_v3(topic, batch, correlation))
    frame = read_frame(s)
    if frame is None:
        fail("no Produce response")
    corr, ntopics, tlen = struct.unpack(">iih", frame[:10])
    at = 10 + tlen
    nparts, index, error, base = struct.unpack(">iihq", frame[at:at + 18])
    if corr != correlation or ntopics != 1 or nparts != 1 or index != 0:
        fail(f"Produce response framing: {frame[:40]!r}")
    return error, base


def produce_checks(addr):
    s = connect(addr)
    # Metadata v4 with auto-creation makes the topic.
    name = b"hand-built"
    s.sendall(request(3, 4, 300, struct.pack(">ih", 1, len(name)) + name + b"\x01"))
    if read_frame(s) is None:
        fail("no Metadata response")
    good = record_batch([b"one", b"two", b"three"])
    error, base = produce_error(s, "hand-built", good, 301)
    if error != 0 or base != 0:
        fail(f"a valid batch: error {error}, base offset {base}")
    # A flipped byte in a value: the CRC no longer matches (CORRUPT_MESSAGE).
    bad = bytearray(record_batch([b"four"]))
    bad[-3] ^= 0xFF
    error, _ = produce_error(s, "hand-built", bytes(bad), 302)
    if error != 2:
        fail(f"a batch with a bad CRC: error {error}, expected CORRUPT_MESSAGE (2)")
    # A record count that lies (with a CRC that matches the lie).
    liar = bytearray(record_batch([b"five", b"six"]))
    struct.pack_into(">i", liar, 57, 3)  # record count
    struct.pack_into(">i", liar, 23, 2)  # last offset delta
    struct.pack_into(">I", liar, 17, crc32c(bytes(liar[21:])))
    error, _ = produce_error(s, "hand-built", bytes(liar), 303)
    if error not in (2, 87):
        fail(f"a batch whose record count lies: error {error}")
    # The connection still works and the log took only the valid batch.
    error, base = produce_error(s, "hand-built", record_batch([b"seven"]), 304)
    if error != 0 or base != 3:
        fail(f"after the bad batches: error {error}, base offset {base}")
    s.close()


def main():
    addr = sys.argv[1]
    healthy = connect(addr)
    api_versions(healthy, 1)

    # Garbage bytes: a plausible size followed by random junk.
    s = connect(addr)
    s.sendall(struct.pack(">i", 64) + os.urandom(64))
    expect_closed(s, "garbage")

    # Pure noise, including a negative size.
    s = connect(addr)
    s.sendall(b"\xff\xff\xff\xf0" + os.urandom(32))
    expect_closed(s, "negative size")

    # An oversized frame: refused from its size alone, before any body is sent.
    s = connect(addr)
    s.sendall(struct.pack(">i", 512 * 1024 * 1024))
    expect_closed(s, "oversized frame")

    # Unknown API key.
    s = connect(addr)
    s.sendall(request(999, 0, 7))
    expect_closed(s, "unknown API key")

    # An API kwire-broker does not implement (CreateDelegationToken).
    s = connect(addr)
    s.sendall(request(38, 1, 8, b"\x00" * 16))
    expect_closed(s, "unimplemented API")

    # Unsupported version of a known API (Metadata v99).
    s = connect(addr)
    s.sendall(request(3, 99, 9, b"\x00", flexible=True))
    expect_closed(s, "unsupported Metadata version")

    # ApiVersions of a version from the future: a v0 answer with
    # UNSUPPORTED_VERSION (35) and the versions the broker does support.
    s = connect(addr)
    s.sendall(request(18, 99, 10, b"\x00", flexible=True))
    frame = read_frame(s)
    if frame is None:
        fail("no answer to ApiVersions v99")
    corr, error, count = struct.unpack(">ihi", frame[:10])
    if corr != 10 or error != 35 or count < 10:
        fail(f"ApiVersions v99 answer: correlation {corr}, error {error}, {count} APIs")
    keys = {struct.unpack(">hhh", frame[10 + 6 * i:16 + 6 * i])[0] for i in range(count)}
    if 18 not in keys or 0 not in keys or 38 in keys:
        fail(f"advertised APIs: {sorted(keys)}")
    s.close()

    # A truncated request: a Metadata v1 body cut short inside a topic name.
    s = connect(addr)
    body = struct.pack(">i", 1) + struct.pack(">h", 20) + b"abc"
    s.sendall(request(3, 1, 11, body))
    expect_closed(s, "truncated request")

    # A frame that ends inside the request header.
    s = connect(addr)
    s.sendall(struct.pack(">i", 5) + b"\x00\x03\x00")
    s.shutdown(socket.SHUT_WR)
    expect_closed(s, "truncated header")

    # librdkafka's Metadata v13 request for all topics carries three bytes after
    # its body (a 4-byte array count it never shrank to the compact form); Kafka
    # ignores them and answers, and so must kwire-broker.
    s = connect(addr)
    s.sendall(request(3, 13, 12, b"\x00\x00\x00\x00\x01\x00\x00", flexible=True, client=b"rdkafka"))
    frame = read_frame(s)
    if frame is None or struct.unpack(">i", frame[:4])[0] != 12:
        fail(f"padded Metadata v13: no answer ({frame and frame[:8]!r})")
    s.close()

    produce_checks(addr)

    # Pipelining: five requests in one write come back in order.
    s = connect(addr)
    body = b"\x06kwire" + b"\x041.0" + b"\x00"
    s.sendall(b"".join(request(18, 3, 100 + i, body, flexible=True) for i in range(5)))
    for i in range(5):
        frame = read_frame(s)
        if frame is None or struct.unpack(">i", frame[:4])[0] != 100 + i:
            fail(f"pipelined response {i}: {frame and frame[:8]!r}")
    s.close()

    # Everyone else is still served: the old connection and a new one.
    api_versions(healthy, 2)
    fresh = connect(addr)
    api_versions(fresh, 3)
    fresh.close()
    healthy.close()

    if len(sys.argv) > 2:
        text = urllib.request.urlopen(f"http://{sys.argv[2]}/metrics", timeout=10).read().decode()
        for needle in ['kwire_requests_total{api="ApiVersions",error="NONE"} 8',
                       'kwire_requests_total{api="ApiVersions",error="UNSUPPORTED_VERSION"} 1',
                       'kwire_requests_total{api="Metadata",error="UNSUPPORTED_VERSION"} 1',
                       'kwire_requests_total{api="Produce",error="CORRUPT_MESSAGE"} 1',
                       'kwire_requests_total{api="Produce",error="NONE"} 2',
                       "kwire_connections ", "kwire_bytes_in_total", "kwire_produce_latency_seconds_bucket"]:
            if needle not in text:
                fail(f"metrics lack {needle!r}:\n{text}")
    # An idle connection is closed after connections.max.idle.ms.
    idle_ms = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    if idle_ms:
        s = connect(addr)
        api_versions(s, 200)
        s.settimeout(idle_ms / 1000 * 4)
        if s.recv(16) != b"":
            fail("the idle connection got data")
        s.close()
    print("OK bad input")


if __name__ == "__main__":
    main()
