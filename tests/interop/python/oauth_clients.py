"""librdkafka (confluent-kafka) over SASL/OAUTHBEARER (tests/interop/oauth.sh).

    python oauth_clients.py reauth BOOTSTRAP KEY.pem KID METRICS_URL
        tokens minted for every login; records produced for longer than
        several session lifetimes (connections.max.reauth.ms) are all
        delivered and read back, and the broker counts re-authentications
    python oauth_clients.py refused BOOTSTRAP TOKEN_FILE
        the token is refused: an authentication error, nothing delivered
"""
import os
import sys
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jwt_tool  # noqa: E402


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def base_conf(bootstrap):
    return {"bootstrap.servers": bootstrap, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanisms": "OAUTHBEARER"}


def reauthentications(metrics_url):
    body = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
    for line in body.splitlines():
        if line.startswith("kwire_sasl_reauthentications_total "):
            return int(float(line.split()[1]))
    fail("no kwire_sasl_reauthentications_total in /metrics")


def reauth(bootstrap, key, kid, metrics_url):
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    minted = []

    def oauth_cb(_config):
        now = int(time.time())
        claims = {"sub": "alice", "iss": "https://idp.example", "aud": "kwire", "iat": now, "exp": now + 3600}
        minted.append(now)
        return jwt_tool.token(key, kid, claims, "RS256"), float(now + 3600)

    conf = {**base_conf(bootstrap), "oauth_cb": oauth_cb}
    topic = "oauth-" + uuid.uuid4().hex[:8]
    admin = AdminClient(conf)
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    before = reauthentications(metrics_url)
    errors, delivered = [], []
    p = Producer({**conf, "linger.ms": 5, "error_cb": lambda e: errors.append(e)})
    n = 0
    end = time.time() + 8  # several lifetimes of 2 s
    while time.time() < end:
        p.produce(topic, value=b"r%d" % n, on_delivery=lambda err, msg: delivered.append(err))
        n += 1
        p.poll(0.02)
    if p.flush(60) != 0:
        fail("producer did not deliver everything")
    if errors or any(delivered):
        fail(f"errors while re-authenticating: {errors[:3]} {[d for d in delivered if d][:3]}")
    after = reauthentications(metrics_url)
    if after - before < 2:
        fail(f"the broker counted {after - before} re-authentications over 8 s of 2 s sessions")
    c = Consumer({**conf, "group.id": "g-" + topic, "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got = set()
    deadline = time.time() + 60
    while len(got) < n and time.time() < deadline:
        for m in c.consume(500, 1.0):
            if not m.error():
                got.add(m.value())
    c.close()
    if len(got) != n:
        fail(f"read {len(got)} of {n} records")
    print(f"librdkafka over OAUTHBEARER: {n} records through {after - before} re-authentications "
          f"({len(minted)} tokens minted)")


def refused(bootstrap, token_file):
    from confluent_kafka import KafkaError, Producer

    token = open(token_file).read().strip()
    seen, delivered = [], []
    conf = {**base_conf(bootstrap), "oauth_cb": lambda _c: (token, time.time() + 3600),
            "error_cb": lambda e: seen.append(e), "message.timeout.ms": 8000, "log_level": 0}
    p = Producer(conf)
    p.produce("oauth-refused", value=b"x", on_delivery=lambda err, msg: delivered.append(err))
    p.flush(20)
    if not delivered or delivered[0] is None:
        fail("a refused token delivered a record")
    if not any(e.code() == KafkaError._AUTHENTICATION for e in seen):
        fail(f"no authentication error reported: {seen[:3]}")
    print("refused as expected:", next(e for e in seen if e.code() == KafkaError._AUTHENTICATION))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "reauth":
        reauth(*sys.argv[2:6])
    elif mode == "refused":
        refused(*sys.argv[2:4])
    else:
        sys.exit(__doc__)
