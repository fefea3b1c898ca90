#!/usr/bin/env python3
"""A flood of new clients against the main job: N `GET /` requests over one keep-alive
connection, each claiming a different client address in X-Forwarded-For (10.x.y.z), as a proxy
in front of many clients would send them. Start the service with `--trusted-proxy 127.0.0.1` so
the header is believed. Prints how many requests got each status, and the time taken.

    python3 scripts/flood.py 100000 [HOST:PORT]

Loopback only: the address must resolve to 127.0.0.0/8 or ::1 (a load test never leaves the
machine).
"""
import collections
import http.client
import ipaddress
import socket
import sys
import time


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    target = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1:8080"
    host, _, port = target.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    addr = ipaddress.ip_address(socket.getaddrinfo(host, None)[0][4][0])
    if not addr.is_loopback:
        print(f"refusing to flood {addr}: loopback addresses only", file=sys.stderr)
        return 2
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    statuses: collections.Counter = collections.Counter()
    start = time.monotonic()
    for i in range(n):
        client = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        conn.request("GET", "/", headers={"X-Forwarded-For": client})
        response = conn.getresponse()
        response.read()
        statuses[response.status] += 1
    elapsed = time.monotonic() - start
    print(f"{n} new clients: {dict(statuses)} in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
