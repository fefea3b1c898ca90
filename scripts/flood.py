#!/usr/bin/env python3
"""A flood against the main job: N requests over one keep-alive connection, as a proxy in front
of many clients would send them (each request claims a client address in X-Forwarded-For).
Start the service with `--trusted-proxy 127.0.0.1` so the header is believed. Prints how many
requests got each status, and the time taken.

    python3 scripts/flood.py N [HOST:PORT] [--every-route] [--one-client]

By default every request is a `GET /` from a new client (10.x.y.z). `--every-route` cycles
through every route instead (`GET /`, `POST /login`, `GET /cached/<new name>`,
`POST /jobs/<new id>`, `GET /jobs/<id>`, `GET /me` with an unknown token, `GET /stats`,
`POST /session/login`, `GET /session/me` with an unknown cookie, an unknown path), each with a new name where the route takes one, so every request that gets
through creates what it can. `--one-client` sends everything as the one client 10.0.0.1 (the
flood after a 429).

Loopback only: the address must resolve to 127.0.0.0/8 or ::1 (a load test never leaves the
machine).
"""
import collections
import http.client
import ipaddress
import socket
import sys
import time

UNKNOWN_TOKEN = "0" * 32
# A well-formed session id (22 characters of base64url) that names no session.
UNKNOWN_COOKIE = "A" * 22


def request_of(i: int, every_route: bool):
    """Method, path, body and extra headers of request number `i`."""
    if not every_route:
        return "GET", "/", None, {}
    route = i % 10
    if route == 0:
        return "GET", "/", None, {}
    if route == 1:
        return "POST", "/login", b'{"user": "flood"}', {"Content-Type": "application/json"}
    if route == 2:
        return "GET", f"/cached/n{i}", None, {}
    if route == 3:
        return "POST", f"/jobs/j{i}", None, {}
    if route == 4:
        return "GET", f"/jobs/j{i}", None, {}
    if route == 5:
        return "GET", "/me", None, {"Authorization": f"Bearer {UNKNOWN_TOKEN}"}
    if route == 6:
        return "GET", "/stats", None, {}
    if route == 7:
        return "POST", "/session/login", b'{"user": "flood"}', {"Content-Type": "application/json"}
    if route == 8:
        return "GET", "/session/me", None, {"Cookie": f"sid={UNKNOWN_COOKIE}"}
    return "GET", f"/nope/{i}", None, {}


def main() -> int:
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    unknown = flags - {"--every-route", "--one-client"}
    if unknown:
        print(f"unknown flags {sorted(unknown)}; see the docstring", file=sys.stderr)
        return 2
    every_route = "--every-route" in flags
    one_client = "--one-client" in flags
    n = int(args[0]) if args else 100_000
    target = args[1] if len(args) > 1 else "127.0.0.1:8080"
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
        client = "10.0.0.1" if one_client else f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        method, path, body, headers = request_of(i, every_route)
        conn.request(method, path, body=body, headers={"X-Forwarded-For": client, **headers})
        response = conn.getresponse()
        response.read()
        statuses[response.status] += 1
        if response.will_close:
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
    elapsed = time.monotonic() - start
    who = "requests from one client" if one_client else "new clients"
    routes = "every route" if every_route else "GET /"
    print(f"{n} {who} on {routes}: {dict(sorted(statuses.items()))} in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
