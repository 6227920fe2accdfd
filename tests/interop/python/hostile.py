"""Hostile input against kwire-broker's network layer: each attack below is
sent to a broker started for it, and the test asserts the broker's reaction,
a bound on the broker's peak resident memory (VmHWM), and that a normal
client is served afterwards.

    python hostile.py [CHECK...]   (KWIRE_BROKER names the broker binary;
                                    CHECK: a function below, default all)

Bounds asserted (MiB above the broker's resident size before the attack):
  - one connection's input (a 40 MB request header of unknown tagged
    fields, a 10 MiB Produce request of empty topics included): under 64
  - 100 connections at once:                    under 256
  - 16 connections filling a 4 MiB request budget with 3 MiB each: under 32
  - 200 TLS handshakes stalled at once on a SASL_SSL listener: under 64
"""
import os
import re
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../support"))
from free_port import free_port  # noqa: E402
from bad_input import api_versions, connect, expect_closed, fail, read_frame, request  # noqa: E402

MiB = 1 << 20
REQUEST_MAX = 100 * MiB  # socket.request.max.bytes, Kafka's default


def wait_until(cond, what, seconds=20):
    """Polls cond() until it is true; fails naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.05)
    fail(f"timed out waiting for {what}")


class Broker:
    def __init__(self, work, name, args=(), listener="PLAINTEXT", fd_limit=None, port=None):
        self.port = port or free_port()
        self.metrics_port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.data = os.path.join(work, name)
        self.log_path = os.path.join(work, name + ".log")
        cmd = [os.environ["KWIRE_BROKER"], f"--listeners={listener}://127.0.0.1:{self.port}",
               f"--log.dirs={self.data}", f"--kwire.metrics.listener=127.0.0.1:{self.metrics_port}",
               "--num.network.threads=2", *args]

        def limit_fds():
            if fd_limit:
                resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))

        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=limit_fds)

    def wait_ready(self):
        def listening():
            if self.proc.poll() is not None:
                fail(f"broker {self.data} exited with {self.proc.returncode}:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.metrics_port), timeout=1).close()
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until(listening, f"broker on port {self.port}")
        return self

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def status(self, key):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
        fail(f"no {key} in /proc/{self.proc.pid}/status")

    def reset_peak(self):
        """Sets VmHWM back to the current resident size; returns that size."""
        with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
            f.write("5")
        return self.status("VmRSS")

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def open_fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def metric(self, name):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).read().decode()
        m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
        if not m:
            fail(f"/metrics lacks {name}")
        return float(m.group(1))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def metadata(s, correlation, topics):
    """Metadata v4 naming `topics`, allowing auto-creation; returns
    {name: error code}. Topics answered LEADER_NOT_AVAILABLE (5), as Kafka
    answers the request that creates them, are asked for once more, as a
    client does."""
    out = metadata_once(s, correlation, topics)
    again = [t for t, e in out.items() if e == 5]
    if again:
        out.update(metadata_once(s, correlation + 1000, again))
    return out


def metadata_once(s, correlation, topics):
    body = struct.pack(">i", len(topics))
    for t in topics:
        body += struct.pack(">h", len(t)) + t.encode()
    s.sendall(request(3, 4, correlation, body + b"\x01"))
    frame = read_frame(s)
    if frame is None:
        fail("Metadata got no answer")
    at = 4 + 4  # correlation id, throttle time
    (nbrokers,) = struct.unpack_from(">i", frame, at)
    at += 4
    for _ in range(nbrokers):
        (hlen,) = struct.unpack_from(">h", frame, at + 4)
        at += 4 + 2 + hlen + 4
        (rlen,) = struct.unpack_from(">h", frame, at)
        at += 2 + max(rlen, 0)
    (clen,) = struct.unpack_from(">h", frame, at)
    at += 2 + max(clen, 0) + 4
    (ntopics,) = struct.unpack_from(">i", frame, at)
    at += 4
    out = {}
    for _ in range(ntopics):
        error, nlen = struct.unpack_from(">hh", frame, at)
        at += 4
        name = frame[at:at + nlen].decode()
        at += nlen + 1  # is_internal
        (nparts,) = struct.unpack_from(">i", frame, at)
        at += 4
        for _ in range(nparts):
            at += 2 + 4 + 4  # error, index, leader
            for _ in range(2):  # replicas, isr
                (n,) = struct.unpack_from(">i", frame, at)
                at += 4 + 4 * n
        out[name] = error
    return out


def normal_client(broker, correlation=1):
    """A plain client: ApiVersions, then Metadata creating and naming a topic."""
    s = connect(broker.addr)
    api_versions(s, correlation)
    topic = f"served-{correlation}"
    errors = metadata(s, correlation + 1, [topic])
    if errors.get(topic) != 0:
        fail(f"a normal client's Metadata: {errors}")
    s.close()


def padded_api_versions(correlation, size):
    """An ApiVersions v0 request padded to a frame of `size` bytes (Kafka
    ignores bytes after a request's body, and so does kwire-broker)."""
    msg = request(18, 0, correlation)[4:]
    return struct.pack(">i", size) + msg + b"\0" * (size - len(msg))


def close_all(sockets):
    for s in sockets:
        s.close()


# ---------------------------------------------------------------------------


def size_prefixes(work):
    """Size prefixes with no body behind them cost the broker no memory."""
    b = Broker(work, "prefixes").wait_ready()
    try:
        # One connection, 100 MiB announced and a few bytes sent.
        idle = b.reset_peak()
        s = connect(b.addr)
        s.sendall(struct.pack(">i", REQUEST_MAX) + b"\x00\x12\x00")
        wait_until(lambda: b.metric("kwire_queued_request_bytes") > 0, "the broker to read the frame")
        one = b.status("VmHWM") - idle
        print(f"one 100 MiB size prefix: VmHWM {one / MiB:.1f} MiB above idle ({idle / MiB:.1f} MiB)")
        if one > 64 * MiB:
            fail(f"one size prefix raised VmHWM by {one / MiB:.1f} MiB (bound 64)")
        s.close()

        # 100 connections at once: half send only the prefix, half a few bytes more.
        idle = b.reset_peak()
        conns = []
        for i in range(100):
            c = connect(b.addr)
            c.sendall(struct.pack(">i", REQUEST_MAX) + (b"\x00\x03\x00" if i % 2 else b""))
            conns.append(c)
        wait_until(lambda: b.metric("kwire_queued_request_bytes") >= 100 * 64 * 1024,
                   "the broker to read 100 frames")
        many = b.status("VmHWM") - idle
        print(f"100 x 100 MiB size prefixes: VmHWM {many / MiB:.1f} MiB above idle")
        if many > 256 * MiB:
            fail(f"100 size prefixes raised VmHWM by {many / MiB:.1f} MiB (bound 256)")
        normal_client(b, 10)  # served while they are open
        close_all(conns)
        wait_until(lambda: b.metric("kwire_queued_request_bytes") == 0, "the budget to be given back")
        normal_client(b, 20)
    finally:
        b.stop()


def uvarint(n):
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


def decode_amplification(work):
    """Requests whose decoding would cost many times their size: a header of
    20 million unknown tagged fields (2 bytes each on the wire, a kept field
    each in memory) and a Produce request of 3.5 million empty topics (3 bytes
    each on the wire, a whole topic entry each in memory). Both are refused
    before the memory is allocated and the connection is closed."""
    b = Broker(work, "amplification").wait_ready()
    try:
        # Metadata v12 (flexible header v2): client id, then the tag section.
        tags = 20_000_000
        head = struct.pack(">hhih", 3, 12, 1, 1) + b"x" + uvarint(tags)
        frame = head + b"\x64\x00" * tags + b"\x01\x00\x00\x00"  # body: no topics
        idle = b.reset_peak()
        s = connect(b.addr)
        s.sendall(struct.pack(">i", len(frame)) + frame)
        expect_closed(s, "a request header of 20 million tagged fields")
        peak = b.status("VmHWM") - idle
        print(f"{len(frame) / MiB:.0f} MiB header of {tags} tagged fields: closed; VmHWM {peak / MiB:.1f} MiB above idle")
        if peak > 64 * MiB:
            fail(f"a header of tagged fields raised VmHWM by {peak / MiB:.1f} MiB (bound 64)")
        normal_client(b, 30)

        # Produce v9: transactional id null, acks -1, timeout, then the topics:
        # each an empty name, no partitions, no tags.
        topics = 10 * MiB // 3
        body = b"\x00" + struct.pack(">hi", -1, 1000) + uvarint(topics + 1) + b"\x01\x01\x00" * topics + b"\x00"
        frame = struct.pack(">hhih", 0, 9, 2, 1) + b"x" + b"\x00" + body
        idle = b.reset_peak()
        s = connect(b.addr)
        s.sendall(struct.pack(">i", len(frame)) + frame)
        expect_closed(s, "a Produce request of empty topics")
        peak = b.status("VmHWM") - idle
        print(f"{len(frame) / MiB:.0f} MiB Produce request of {topics} empty topics: closed; "
              f"VmHWM {peak / MiB:.1f} MiB above idle")
        if peak > 64 * MiB:
            fail(f"a Produce request of empty topics raised VmHWM by {peak / MiB:.1f} MiB (bound 64)")
        normal_client(b, 40)
    finally:
        b.stop()


def budget_back_pressure(work):
    """queued.max.request.bytes stops reading sockets while full: a flood of
    large frames is held back, not refused, and every frame is answered once
    its sender finishes it."""
    limit = 4 * MiB
    b = Broker(work, "budget", [f"--queued.max.request.bytes={limit}",
                                f"--socket.request.max.bytes={4 * MiB}"]).wait_ready()
    try:
        idle = b.reset_peak()
        frames, conns = [], []
        for i in range(16):
            c = connect(b.addr)
            c.setblocking(False)
            frames.append(padded_api_versions(100 + i, 4 * MiB - 4))
            conns.append(c)
        sent = [0] * 16
        first_part = 4 + 3 * MiB

        def push():
            """Sends what the sockets take of each frame's first part; true if
            anything moved."""
            moved = False
            for i, c in enumerate(conns):
                while sent[i] < first_part:
                    try:
                        sent[i] += c.send(frames[i][sent[i]:first_part])
                        moved = True
                    except BlockingIOError:
                        break
            return moved

        # Push until the sockets have stopped taking bytes for a while: the
        # broker has read what its budget allows (or everything was sent).
        still = 0
        while still < 20:
            still = 0 if push() else still + 1
            time.sleep(0.05)
        wait_until(lambda: b.metric("kwire_queued_request_bytes") >= limit, "the budget to fill")
        queued = b.metric("kwire_queued_request_bytes")
        peak = b.status("VmHWM") - idle
        print(f"16 x 3 MiB sent of 4 MiB frames, budget 4 MiB: {queued / MiB:.1f} MiB queued, "
              f"VmHWM {peak / MiB:.1f} MiB above idle")
        if queued > limit + 4 * MiB + 64 * 1024:
            fail(f"{queued} bytes queued: more than the budget and one frame")
        if peak > 32 * MiB:
            fail(f"VmHWM rose by {peak / MiB:.1f} MiB with a 4 MiB budget (bound 32)")

        # Back-pressure, not failure: each sender finishes its frame and gets
        # its answer.
        answers = [None] * 16

        def finish(i):
            c = conns[i]
            c.setblocking(True)
            c.settimeout(120)
            try:
                c.sendall(frames[i][sent[i]:])
                answers[i] = read_frame(c)
            except OSError as e:
                answers[i] = e
            c.close()

        workers = [threading.Thread(target=finish, args=(i,)) for i in range(16)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        for i, frame in enumerate(answers):
            if not isinstance(frame, bytes) or struct.unpack(">i", frame[:4])[0] != 100 + i:
                fail(f"padded ApiVersions {i} after back-pressure: {frame if not isinstance(frame, bytes) else frame[:8]!r}")
        wait_until(lambda: b.metric("kwire_queued_request_bytes") == 0, "the budget to be given back")
        normal_client(b, 30)
    finally:
        b.stop()


def sasl_before_login(work):
    """Before SASL login: frames over sasl.server.max.receive.size close the
    connection from their size alone; only ApiVersions and the SASL APIs
    are served."""
    b = Broker(work, "sasl", ["--kwire.sasl.plain.users=alice:secret"], listener="SASL_PLAINTEXT").wait_ready()
    try:
        idle = b.reset_peak()
        for size in (512 * 1024 + 1, REQUEST_MAX):
            refused = b.metric("kwire_frames_refused_total")
            s = connect(b.addr)
            s.sendall(struct.pack(">i", size))  # no body at all
            expect_closed(s, f"a {size}-byte frame before login")
            if b.metric("kwire_frames_refused_total") != refused + 1:
                fail(f"a {size}-byte frame before login was not counted as refused")
        peak = b.status("VmHWM") - idle
        print(f"frames over 512 KiB before SASL login: closed; VmHWM {peak / MiB:.1f} MiB above idle")
        if peak > 64 * MiB:
            fail(f"VmHWM rose by {peak / MiB:.1f} MiB")
        if "before authentication exceeds sasl.server.max.receive.size" not in b.log():
            fail("the broker did not log why it closed the connection")

        # A frame of exactly the limit is read (and answered: ApiVersions).
        s = connect(b.addr)
        s.sendall(padded_api_versions(5, 512 * 1024))
        frame = read_frame(s)
        if frame is None or struct.unpack(">i", frame[:4])[0] != 5:
            fail("a 512 KiB ApiVersions before login got no answer")
        # Metadata before login closes the connection.
        s.sendall(request(3, 4, 6, struct.pack(">i", 0) + b"\x00"))
        expect_closed(s, "Metadata before login")

        # Logged in, the same client may send larger frames.
        s = login(b.addr, "alice", "secret")
        s.sendall(padded_api_versions(7, 2 * MiB))
        frame = read_frame(s)
        if frame is None or struct.unpack(">i", frame[:4])[0] != 7:
            fail("a 2 MiB ApiVersions after login got no answer")
        errors = metadata(s, 8, ["after-login"])
        if errors.get("after-login") != 0:
            fail(f"Metadata after login: {errors}")
        s.close()
    finally:
        b.stop()


def make_server_cert(work):
    """A self-signed certificate for localhost, made for this run; returns
    (PEM with key and certificate, the certificate alone)."""
    key, cert = os.path.join(work, "tls.key"), os.path.join(work, "tls.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    pem = os.path.join(work, "tls.pem")
    with open(pem, "w") as out:
        for part in (key, cert):
            with open(part) as f:
                out.write(f.read())
    return pem, cert


def tls_before_login(work):
    """On a SASL_SSL listener: TLS handshakes that stall (nothing sent, or a
    record header promising bytes that never come) are cut off by the
    handshake deadline with memory bounded, while other clients log in
    over TLS; a frame over sasl.server.max.receive.size sent through TLS
    before login closes the connection from its size alone."""
    import ssl

    pem, cert = make_server_cert(work)
    b = Broker(work, "tls", ["--kwire.sasl.plain.users=alice:secret", f"--ssl.keystore.location={pem}",
                             "--kwire.ssl.handshake.timeout.ms=3000"], listener="SASL_SSL").wait_ready()
    ctx = ssl.create_default_context(cafile=cert)

    def tls_connect():
        return ctx.wrap_socket(connect(b.addr), server_hostname="localhost")

    try:
        idle = b.reset_peak()
        failed = b.metric("kwire_tls_handshakes_failed_total")
        stalled = flood(b.addr, 200)
        if len(stalled) < 200:
            fail(f"only {len(stalled)} of 200 connections opened")
        for i, s in enumerate(stalled):
            if i % 2:
                s.sendall(b"\x16\x03\x01\x40\x00" + b"\x01" * 100)  # a 16 KiB handshake record, barely begun
        # Meanwhile another client completes its handshake and logs in.
        s = login(b.addr, "alice", "secret", wrap=lambda raw: ctx.wrap_socket(raw, server_hostname="localhost"))
        if metadata(s, 3, ["tls-topic"]).get("tls-topic") != 0:
            fail("Metadata over TLS after login failed")
        s.close()
        for i, st in enumerate(stalled):
            expect_closed(st, f"stalled TLS handshake {i}")
        wait_until(lambda: b.metric("kwire_tls_handshakes_failed_total") >= failed + 200,
                   "the stalled handshakes to be counted")
        peak = b.status("VmHWM") - idle
        print(f"200 stalled TLS handshakes: cut off; VmHWM {peak / MiB:.1f} MiB above idle")
        if peak > 64 * MiB:
            fail(f"VmHWM rose by {peak / MiB:.1f} MiB")
        if "TLS handshake timed out" not in b.log():
            fail("the broker did not log the handshake deadline")

        refused = b.metric("kwire_frames_refused_total")
        s = tls_connect()
        s.sendall(struct.pack(">i", REQUEST_MAX))  # the size alone, through TLS
        expect_closed(s, "a 100 MiB frame before login over TLS")
        if b.metric("kwire_frames_refused_total") != refused + 1:
            fail("the oversized frame over TLS was not counted as refused")
        if b.status("VmHWM") - idle > 64 * MiB:
            fail("an oversized frame over TLS raised the broker's memory")
        normal = login(b.addr, "alice", "secret", wrap=lambda raw: ctx.wrap_socket(raw, server_hostname="localhost"))
        normal.close()
    finally:
        b.stop()


def login(addr, user, password, wrap=lambda s: s):
    s = wrap(connect(addr))
    mech = b"PLAIN"
    s.sendall(request(17, 1, 1, struct.pack(">h", len(mech)) + mech))
    frame = read_frame(s)
    if frame is None or struct.unpack(">h", frame[4:6])[0] != 0:
        fail(f"SaslHandshake: {frame!r}")
    token = b"\0" + user.encode() + b"\0" + password.encode()
    s.sendall(request(36, 0, 2, struct.pack(">i", len(token)) + token))
    frame = read_frame(s)
    if frame is None or struct.unpack(">h", frame[4:6])[0] != 0:
        fail(f"SaslAuthenticate: {frame!r}")
    return s


def flood(addr, count):
    """Opens `count` connections (the broker accepts what it can; the rest
    wait in its backlog or fail to connect)."""
    out = []
    for _ in range(count):
        try:
            out.append(socket.create_connection(("127.0.0.1", int(addr.rsplit(":", 1)[1])), timeout=2))
        except OSError:
            break
    return out


def descriptors_run_out(work):
    """Out of file descriptors, the accept loop backs off instead of spinning,
    counts the failures, and serves again once connections close."""
    b = Broker(work, "fds", ["--connections.max.idle.ms=600000"], fd_limit=64).wait_ready()
    try:
        conns = flood(b.addr, 150)
        wait_until(lambda: b.open_fds() >= 63, "the broker to run out of descriptors")
        before = b.cpu_seconds()
        time.sleep(3)
        used = b.cpu_seconds() - before
        print(f"out of descriptors with {len(conns)} connections waiting: {used:.2f} CPU seconds in 3 s")
        if used > 0.5:
            fail(f"the broker used {used:.2f} CPU seconds in 3 s while out of descriptors (spinning)")
        close_all(conns)
        errors = wait_until(lambda: b.metric("kwire_accept_errors_total"), "accept errors to be counted")
        print(f"kwire_accept_errors_total {errors:.0f}")
        if "accept failed" not in b.log():
            fail("accept failures were not logged")
        normal_client(b, 40)
    finally:
        b.stop()


def topic_dirs(data):
    root = os.path.join(data, "public", "default", "topics")
    return sorted(os.listdir(root)) if os.path.isdir(root) else []


def check_no_debris(data, created):
    for name in topic_dirs(data):
        path = os.path.join(data, "public", "default", "topics", name)
        if name not in created:
            fail(f"a failed creation left {path} behind: {os.listdir(path)}")
        if not os.path.exists(os.path.join(path, "topic.meta")) or not os.path.isdir(os.path.join(path, "0")):
            fail(f"topic {name} is incomplete on disk: {os.listdir(path)}")


def many_topics_few_fds(work):
    """Metadata auto-creating 400 topics under `ulimit -n 64`: the store's
    bounded file handles let all of them be created; with that bound lifted,
    creations that run out of descriptors are answered KAFKA_STORAGE_ERROR,
    logged, and leave no directory behind."""
    topics = [f"auto-{i:03d}" for i in range(400)]
    b = Broker(work, "topics", fd_limit=64).wait_ready()
    try:
        s = connect(b.addr)
        errors = metadata(s, 50, topics)
        bad = {t: e for t, e in errors.items() if e != 0}
        if bad or len(errors) != 400:
            fail(f"{len(bad)} of 400 topics failed under ulimit -n 64: {dict(list(bad.items())[:5])}")
        print(f"400 topics auto-created under ulimit -n 64: {b.open_fds()} descriptors open, "
              f"{b.metric('kwire_open_log_files'):.0f} log files open")
        check_no_debris(b.data, set(topics))
        s.close()
        normal_client(b, 60)
    finally:
        b.stop()

    b = Broker(work, "topics-unbounded", ["--kwire.log.max.open.files=100000"], fd_limit=64).wait_ready()
    try:
        s = connect(b.addr)
        errors = metadata(s, 70, topics)
        created = {t for t, e in errors.items() if e == 0}
        failed = {t: e for t, e in errors.items() if e != 0}
        print(f"400 topics, file bound lifted: {len(created)} created, {len(failed)} failed "
              f"with {sorted(set(failed.values()))}")
        if not failed:
            fail("with the file bound lifted, no creation ran out of descriptors")
        if set(failed.values()) != {56}:
            fail(f"failed auto-creations answered {set(failed.values())}, expected KAFKA_STORAGE_ERROR (56)")
        check_no_debris(b.data, created)
        if "auto-creating topic" not in b.log():
            fail("failed auto-creations were not logged")
        api_versions(s, 71)  # the connection is still served
        s.close()
    finally:
        b.stop()


def port_taken(work):
    """A second broker on a bound port exits non-zero naming the port."""
    first = Broker(work, "first").wait_ready()
    try:
        second = Broker(work, "second", port=first.port)
        try:
            rc = second.proc.wait(30)
        except subprocess.TimeoutExpired:
            fail("a second broker on a bound port kept running")
        finally:
            second.stop()
        print(f"second broker on port {first.port}: exit {rc}: {second.log().strip().splitlines()[-1]}")
        if rc == 0:
            fail("the second broker exited 0")
        if f":{first.port}" not in second.log() or "cannot listen" not in second.log():
            fail(f"the second broker's error does not name the port:\n{second.log()}")
        normal_client(first, 80)
    finally:
        first.stop()


def main():
    work = tempfile.mkdtemp(prefix="kwire-hostile.")
    ok = False
    try:
        checks = [size_prefixes, decode_amplification, budget_back_pressure, sasl_before_login, tls_before_login,
                  descriptors_run_out,
                  many_topics_few_fds, port_taken]
        if len(sys.argv) > 1:
            checks = [c for c in checks if c.__name__ in sys.argv[1:]]
        for check in checks:
            print(f"-- {check.__name__}", flush=True)
            check(work)
        ok = True
    finally:
        if not ok:
            for name in sorted(os.listdir(work)):
                if name.endswith(".log"):
                    print(f"---- {name} (last 20 lines)", file=sys.stderr)
                    with open(os.path.join(work, name), errors="replace") as f:
                        print("".join(f.readlines()[-20:]), file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    print("OK hostile input")


if __name__ == "__main__":
    main()
