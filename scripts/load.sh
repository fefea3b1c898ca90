#!/usr/bin/env bash
# Load test of examples/http_service.rs with wrk, on loopback only.
#
#   scripts/load.sh [RUNS]          # RUNS per scenario (default 3); prints each run and the median
#
# Scenarios (each `wrk -t$THREADS -c$CONNS -d$DURATION`, defaults -t2 -c32 -d10s):
#   GET /          --rate-limit 10^12: every request is counted in the store and served (200)
#   GET /          default limit (100/60 s): after the first 100, every request is a 429
#   GET /cached/x  one MISS, then HITs served from the store
#
# Environment: THREADS, CONNS, DURATION (wrk's -t, -c, -d); CARGO_TARGET_DIR is honoured.
# The service logs one line per request to stderr; here that goes to /dev/null.
set -euo pipefail

RUNS=${1:-3}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
DURATION=${DURATION:-10s}
case "$RUNS" in '' | *[!0-9]* | 0) echo "usage: $0 [RUNS>=1]" >&2; exit 2 ;; esac

cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
    echo "wrk not found: installing it with apt-get" >&2
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >&2 ||
        { $SUDO apt-get update >&2 && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >&2; } ||
        true
    if ! command -v wrk >/dev/null; then
        echo "error: wrk is required and could not be installed (try: apt-get install wrk)" >&2
        exit 1
    fi
fi

cargo build --release --example http_service >&2
BIN="${CARGO_TARGET_DIR:-target}/release/examples/http_service"
[ -x "$BIN" ] || { echo "error: $BIN not found after the build" >&2; exit 1; }

WORK=$(mktemp -d)
SERVICE_PID=""
stop_service() {
    if [ -n "$SERVICE_PID" ]; then
        kill -TERM "$SERVICE_PID" 2>/dev/null || true
        wait "$SERVICE_PID" 2>/dev/null || true
        SERVICE_PID=""
    fi
}
trap 'stop_service; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# start_service LIMIT: starts the service on a free loopback port and sets URL.
start_service() {
    stop_service
    : >"$WORK/stdout"
    "$BIN" --addr 127.0.0.1:0 --rate-limit "$1" >"$WORK/stdout" 2>/dev/null &
    SERVICE_PID=$!
    URL=""
    for _ in $(seq 100); do
        URL=$(sed -n 's#^listening on \(http://127\.0\.0\.1:[0-9]*\)$#\1#p' "$WORK/stdout")
        [ -n "$URL" ] && break
        kill -0 "$SERVICE_PID" 2>/dev/null || { echo "error: the service exited" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$URL" ] || { echo "error: the service did not report a loopback address" >&2; exit 1; }
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# scenario NAME PATH: RUNS wrk runs against $URL$PATH; prints each and the medians.
scenario() {
    local name=$1 path=$2 rps_all="" non2xx_all=""
    for run in $(seq "$RUNS"); do
        wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" "$URL$path" >"$WORK/wrk" 2>&1 ||
            { cat "$WORK/wrk" >&2; echo "error: wrk failed" >&2; exit 1; }
        kill -0 "$SERVICE_PID" 2>/dev/null || { echo "error: the service died under load" >&2; exit 1; }
        local rps total non2xx errors
        rps=$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/wrk")
        total=$(awk '/requests in/ { print $1 }' "$WORK/wrk")
        non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $5 }' "$WORK/wrk")
        errors=$(grep -E '^ *Socket errors:' "$WORK/wrk" || true)
        [ -n "$rps" ] || { cat "$WORK/wrk" >&2; echo "error: no Requests/sec in wrk output" >&2; exit 1; }
        printf '  %-44s run %d: %10s req/s  %9s requests  %9s non-2xx  %s\n' \
            "$name" "$run" "$rps" "$total" "${non2xx:-0}" "$errors"
        rps_all+="$rps"$'\n'
        non2xx_all+="${non2xx:-0}"$'\n'
    done
    printf '%-46s median: %10s req/s  (non-2xx median %s)\n' "$name" \
        "$(printf '%s' "$rps_all" | median)" "$(printf '%s' "$non2xx_all" | median)"
}

echo "wrk -t$THREADS -c$CONNS -d$DURATION, $RUNS run(s) each, $(nproc) cores, $(uname -m)"

start_service 1000000000000
echo "service at $URL (--rate-limit 1000000000000)"
scenario "GET / (limit never reached: 200s)" /
scenario "GET /cached/x (1 MISS, then HITs)" /cached/x

start_service 100
echo "service at $URL (default --rate-limit 100)"
scenario "GET / (default limit: all but 100 are 429s)" /

stop_service
