#!/usr/bin/env python3
"""Prints a loopback TCP port that nobody listens on now.

Picked above the kernel's ephemeral range (net.ipv4.ip_local_port_range,
32768-60999 by default) rather than with bind(0): a port from that range can
become the source port of any outgoing connection between this pick and the
server's own bind, which then fails with "Address already in use".
"""
import random
import socket
import sys


def ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port():
    low, high = ephemeral_range()
    # Above the ephemeral range if it leaves room, otherwise below it.
    candidates = range(high + 1, 65536) if high < 64000 else range(max(1024, low - 8000), low)
    for _ in range(500):
        port = random.choice(candidates)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    sys.exit("free_port: no free port found")


if __name__ == "__main__":
    print(free_port())
