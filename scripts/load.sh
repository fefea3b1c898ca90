#!/usr/bin/env bash
# Load test of the main job (package scriptling-kv-service, binary http_service) with wrk, on
# loopback only.
#
#   scripts/load.sh [RUNS]          # RUNS per scenario (default 3); prints each run and the median
#
# Scenarios (each `wrk -t$THREADS -c$CONNS -d$DURATION`, defaults -t2 -c32 -d10s):
#   GET /          --rate-limit 10^12: every request is counted in the store and served (200)
#   GET /          default limit (100/60 s): after the first 100, every request is a 429
#   GET /cached/x  one MISS, then HITs served from the store
#
# Each scenario prints req/s and wrk's latency percentiles (p50, p99), per run and as medians.
# Every scenario runs on the crate's store ("memory") and then on `--baseline-store` (the
# original library's design: one RwLock<HashMap>, no single flight; "baseline").
#
# With SCRIPTLING_KV_REDIS_URL set (scripts/with-redis.sh sets it to a server of its own), the
# same scenarios run a second time on the service started with --redis URL: the price of
# sharing the state between processes. `scripts/with-redis.sh scripts/load.sh` does both.
#
# Environment: THREADS, CONNS, DURATION (wrk's -t, -c, -d); CARGO_TARGET_DIR is honoured;
# HTTP_SERVICE=PATH runs that binary instead of building the package (to compare two builds).
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

if [ -n "${HTTP_SERVICE:-}" ]; then
    BIN=$HTTP_SERVICE
else
    cargo build --release -p scriptling-kv-service >&2
    BIN="${CARGO_TARGET_DIR:-target}/release/http_service"
fi
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

# start_service LIMIT [ARGS...]: starts the service on a free loopback port and sets URL.
start_service() {
    stop_service
    : >"$WORK/stdout"
    local limit=$1
    shift
    "$BIN" --addr 127.0.0.1:0 --rate-limit "$limit" "$@" >"$WORK/stdout" 2>/dev/null &
    SERVICE_PID=$!
    URL=""
    for _ in $(seq 100); do
        URL=$(sed -n 's#^listening on \(http://127\.0\.0\.1:[0-9]*\)\( .*\)\{0,1\}$#\1#p' "$WORK/stdout")
        [ -n "$URL" ] && break
        kill -0 "$SERVICE_PID" 2>/dev/null || { echo "error: the service exited" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$URL" ] || { echo "error: the service did not report a loopback address" >&2; exit 1; }
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# to_us VALUE: wrk's latency ("812.00us", "1.23ms", "2.00s") in microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1000000
        else print "?" }'
}

# scenario NAME PATH: RUNS wrk runs against $URL$PATH; prints each and the medians.
scenario() {
    local name=$1 path=$2 rps_all="" non2xx_all="" p50_all="" p99_all=""
    for run in $(seq "$RUNS"); do
        wrk --latency -t"$THREADS" -c"$CONNS" -d"$DURATION" "$URL$path" >"$WORK/wrk" 2>&1 ||
            { cat "$WORK/wrk" >&2; echo "error: wrk failed" >&2; exit 1; }
        kill -0 "$SERVICE_PID" 2>/dev/null || { echo "error: the service died under load" >&2; exit 1; }
        local rps total non2xx errors
        rps=$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/wrk")
        total=$(awk '/requests in/ { print $1 }' "$WORK/wrk")
        non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $5 }' "$WORK/wrk")
        errors=$(grep -E '^ *Socket errors:' "$WORK/wrk" || true)
        [ -n "$rps" ] || { cat "$WORK/wrk" >&2; echo "error: no Requests/sec in wrk output" >&2; exit 1; }
        p50=$(to_us "$(awk '$1 == "50%" { print $2 }' "$WORK/wrk")")
        p99=$(to_us "$(awk '$1 == "99%" { print $2 }' "$WORK/wrk")")
        case "$p50$p99" in *'?'* | '') cat "$WORK/wrk" >&2; echo "error: no latency percentiles in wrk output" >&2; exit 1 ;; esac
        printf '  %-44s run %d: %10s req/s  p50 %8s us  p99 %8s us  %9s requests  %9s non-2xx  %s\n' \
            "$name" "$run" "$rps" "$p50" "$p99" "$total" "${non2xx:-0}" "$errors"
        rps_all+="$rps"$'\n'
        non2xx_all+="${non2xx:-0}"$'\n'
        p50_all+="$p50"$'\n'
        p99_all+="$p99"$'\n'
    done
    printf '%-46s median: %10s req/s  p50 %s us  p99 %s us  (non-2xx median %s)\n' "$name" \
        "$(printf '%s' "$rps_all" | median)" "$(printf '%s' "$p50_all" | median)" \
        "$(printf '%s' "$p99_all" | median)" "$(printf '%s' "$non2xx_all" | median)"
}

echo "wrk -t$THREADS -c$CONNS -d$DURATION, $RUNS run(s) each, $(nproc) cores, $(uname -m)"

# reset_redis: removes the service's keys (namespace http_service) from the test server, so that
# each service starts with fresh windows, as the in-process store does.
reset_redis() {
    local cli=${SCRIPTLING_KV_REDIS_CLI:-redis-cli}
    "$cli" -u "$SCRIPTLING_KV_REDIS_URL" --scan --pattern 'http_service*' |
        xargs -r "$cli" -u "$SCRIPTLING_KV_REDIS_URL" UNLINK >/dev/null
}

# scenarios LABEL [ARGS...]: the three scenarios on a service started with ARGS.
scenarios() {
    local label=$1
    shift
    [ "$label" = redis ] && reset_redis
    start_service 1000000000000 "$@"
    echo "$label: service at $URL (--rate-limit 1000000000000 $*)"
    scenario "$label: GET / (limit never reached: 200s)" /
    scenario "$label: GET /cached/x (1 MISS, then HITs)" /cached/x

    [ "$label" = redis ] && reset_redis
    start_service 100 "$@"
    echo "$label: service at $URL (default --rate-limit 100 $*)"
    scenario "$label: GET / (default limit: all but 100 are 429s)" /
    stop_service
}

scenarios memory
# The same routes on the original library's design (a RwLock<HashMap>, no single flight): what
# the crate's store buys the service, measured in the same run.
scenarios baseline --baseline-store
if [ -n "${SCRIPTLING_KV_REDIS_URL:-}" ]; then
    scenarios redis --redis "$SCRIPTLING_KV_REDIS_URL"
else
    echo "(SCRIPTLING_KV_REDIS_URL not set: the Redis runs are skipped; scripts/with-redis.sh scripts/load.sh runs them)"
fi
