"""A group member that dies without leaving (kill -9) loses its partitions when
its session times out, and the surviving member takes them over.

    python session_timeout.py BOOTSTRAP
"""
import os
import signal
import subprocess
import sys
import time
import uuid

from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient, NewTopic

MEMBER = """
import sys, time
from kafka import KafkaConsumer
c = KafkaConsumer(sys.argv[2], bootstrap_servers=sys.argv[1], group_id=sys.argv[3],
                  session_timeout_ms=6000, heartbeat_interval_ms=500)
while True:
    c.poll(timeout_ms=200)
    if c.assignment():
        print("assigned", len(c.assignment()), flush=True)
"""


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def main():
    bootstrap = sys.argv[1]
    topic, group = "st-" + uuid.uuid4().hex[:8], "st-group"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
    admin.close()

    doomed = subprocess.Popen([sys.executable, "-c", MEMBER, bootstrap, topic, group], stdout=subprocess.PIPE, text=True)
    try:
        line = doomed.stdout.readline()
        if not line.startswith("assigned 4"):
            fail(f"the first member: {line!r}")
        survivor = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, session_timeout_ms=6000,
                                 heartbeat_interval_ms=500)
        deadline = time.time() + 60
        while len(survivor.assignment()) != 2 and time.time() < deadline:
            survivor.poll(timeout_ms=200)
        if len(survivor.assignment()) != 2:
            fail(f"the second member got {survivor.assignment()}")
        os.kill(doomed.pid, signal.SIGKILL)  # no LeaveGroup: only the session timeout can tell
        doomed.wait()
        deadline = time.time() + 60
        while len(survivor.assignment()) != 4 and time.time() < deadline:
            survivor.poll(timeout_ms=200)
        if len(survivor.assignment()) != 4:
            fail(f"after the session timeout the survivor has {survivor.assignment()}")
        survivor.close()
    finally:
        if doomed.poll() is None:
            doomed.kill()
    print("OK session timeout")


if __name__ == "__main__":
    main()
