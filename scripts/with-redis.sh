#!/usr/bin/env bash
# Runs a command with our own Redis servers up, for the scriptling-kv-redis tests and benches.
#
#   scripts/with-redis.sh COMMAND [ARGS...]
#   scripts/with-redis.sh cargo test -p scriptling-kv-redis
#
# Starts, on free loopback ports from 46300 up, each in a fresh directory under one temp dir:
#   - a standalone server (DEBUG allowed       SCRIPTLING_KV_REDIS_URL=redis://127.0.0.1:P
#     from loopback: DEBUG POPULATE)
#   - a server with --requirepass               SCRIPTLING_KV_REDIS_AUTH_URL=redis://:PASS@127.0.0.1:P
#                                               SCRIPTLING_KV_REDIS_AUTH_ADDR=127.0.0.1:P
#   - a TLS server (self-signed CA, openssl)    SCRIPTLING_KV_REDIS_TLS_URL=rediss://127.0.0.1:P
#                                               SCRIPTLING_KV_REDIS_TLS_CA=<CA certificate file>
#   - a 3-master cluster                        SCRIPTLING_KV_REDIS_CLUSTER=redis://127.0.0.1:P1,redis://...:P2,redis://...:P3
# and also exports
#   SCRIPTLING_KV_REDIS_SERVER   the redis-server binary   SCRIPTLING_KV_REDIS_CLI   the redis-cli binary
#   SCRIPTLING_KV_REDIS_FAULT_PORT  a free port (no server) for a test that runs its own server
#   SCRIPTLING_KV_REDIS_TMP      the temp dir (a test may put its own servers' directories there)
# then runs the command and exits with its status. On exit, whatever happens (the command fails,
# Ctrl-C, SIGTERM), it stops every server it started (`redis-cli shutdown nosave`, then SIGTERM,
# then SIGKILL by pidfile), plus any server a test left running with a pidfile under the temp dir,
# and removes the temp dir. It never touches a server it did not start.
#
# redis-server/redis-tools are installed from Debian (apt-get) when missing; the script fails
# loudly if it cannot. Set SCRIPTLING_KV_REDIS_NO_TLS=1 to skip the TLS server.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

log() { echo "with-redis: $*" >&2; }
die() { log "FATAL: $*"; exit 1; }

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    log "redis-server/redis-cli not found: installing redis-server and redis-tools with apt-get"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    { $SUDO apt-get update >&2 &&
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server redis-tools >&2; } ||
        die "could not install redis-server and redis-tools (apt-get update && apt-get install -y redis-server redis-tools)"
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
        die "redis-server/redis-cli still missing after apt-get install"
fi
REDIS_SERVER=$(command -v redis-server)
REDIS_CLI=$(command -v redis-cli)
log "$("$REDIS_SERVER" --version)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/scriptling-kv-redis.XXXXXX")
# "name port" of every server started here (for the shutdown).
STARTED=()

stop_pidfile() { # pidfile: SIGTERM, then SIGKILL, the process it names if it is still a redis-server
    local pidfile=$1 pid i
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile" 2>/dev/null || true)
    case "$pid" in '' | *[!0-9]*) return 0 ;; esac
    grep -q redis "/proc/$pid/cmdline" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do
        [ -f "$pidfile" ] || return 0
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$? entry name port pidfile i auth
    trap - EXIT INT TERM
    for entry in "${STARTED[@]+"${STARTED[@]}"}"; do
        name=${entry% *}
        port=${entry#* }
        pidfile="$WORK/$name/redis.pid"
        auth=()
        if [ "$name" = auth ]; then auth=(-a "$PASSWORD" --no-auth-warning); fi
        "$REDIS_CLI" -h 127.0.0.1 -p "$port" "${auth[@]+"${auth[@]}"}" shutdown nosave >/dev/null 2>&1 || true
        # A server removes its pidfile as it exits (kill -0 would also see a zombie not reaped yet).
        for i in $(seq 30); do
            [ -f "$pidfile" ] || break
            sleep 0.1
        done
        stop_pidfile "$pidfile"
    done
    # Servers a test started under our temp dir and left behind (it panicked, say).
    while IFS= read -r pidfile; do
        stop_pidfile "$pidfile"
    done < <(find "$WORK" -name '*.pid' 2>/dev/null)
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Ports: from 46300 up, skipping any that accepts a connection (someone else's).
NEXT_PORT=46300
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    while port_in_use "$NEXT_PORT" || port_in_use $((NEXT_PORT + 10000)); do
        NEXT_PORT=$((NEXT_PORT + 1))
    done
    # (port + 10000 is the cluster bus port of a cluster node)
    PORT=$NEXT_PORT
    NEXT_PORT=$((NEXT_PORT + 1))
}

# start_server NAME PORT [redis-server options...]
start_server() {
    local name=$1 port=$2 dir i
    shift 2
    dir="$WORK/$name"
    mkdir -p "$dir"
    STARTED+=("$name $port")
    "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
        --pidfile "$dir/redis.pid" --dir "$dir" --logfile "$dir/redis.log" "$@" ||
        die "redis-server $name did not start (log: $(cat "$dir/redis.log" 2>/dev/null))"
    for i in $(seq 100); do
        if "$REDIS_CLI" -h 127.0.0.1 -p "$port" ${AUTH_ARGS:-} ping 2>/dev/null | grep -q PONG; then
            return 0
        fi
        sleep 0.05
    done
    cat "$dir/redis.log" >&2 || true
    die "redis-server $name on port $port does not answer PING"
}

free_port
STANDALONE_PORT=$PORT
start_server standalone "$STANDALONE_PORT" --enable-debug-command local

free_port
AUTH_PORT=$PORT
PASSWORD="s3cret-$RANDOM$RANDOM"
AUTH_ARGS="-a $PASSWORD --no-auth-warning" start_server auth "$AUTH_PORT" --requirepass "$PASSWORD"

TLS_URL=""
TLS_CA=""
if [ -z "${SCRIPTLING_KV_REDIS_NO_TLS:-}" ]; then
    command -v openssl >/dev/null || die "openssl is needed for the TLS server (or set SCRIPTLING_KV_REDIS_NO_TLS=1)"
    T="$WORK/tls-certs"
    mkdir -p "$T"
    {
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=scriptling-kv test CA" \
            -keyout "$T/ca.key" -out "$T/ca.crt" &&
            openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
                -keyout "$T/server.key" -out "$T/server.csr" &&
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$T/ext.cnf" &&
            openssl x509 -req -in "$T/server.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial \
                -days 2 -extfile "$T/ext.cnf" -out "$T/server.crt"
    } >"$T/openssl.log" 2>&1 || { cat "$T/openssl.log" >&2; die "could not make test certificates"; }
    chmod 644 "$T"/*.key
    free_port
    TLS_PLAIN_PORT=$PORT # a plain port too, for PING and shutdown
    free_port
    TLS_PORT=$PORT
    start_server tls "$TLS_PLAIN_PORT" --tls-port "$TLS_PORT" --tls-cert-file "$T/server.crt" \
        --tls-key-file "$T/server.key" --tls-ca-cert-file "$T/ca.crt" --tls-auth-clients no
    TLS_URL="rediss://127.0.0.1:$TLS_PORT"
    TLS_CA="$T/ca.crt"
fi

CLUSTER_PORTS=()
for i in 1 2 3; do
    free_port
    CLUSTER_PORTS+=("$PORT")
    start_server "cluster-$i" "$PORT" --cluster-enabled yes \
        --cluster-config-file "$WORK/cluster-$i/nodes.conf" --cluster-node-timeout 5000
done
"$REDIS_CLI" --cluster create "${CLUSTER_PORTS[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes \
    >"$WORK/cluster-create.log" 2>&1 || { cat "$WORK/cluster-create.log" >&2; die "redis-cli --cluster create failed"; }
ok=""
for i in $(seq 100); do
    ok=yes
    for p in "${CLUSTER_PORTS[@]}"; do
        "$REDIS_CLI" -h 127.0.0.1 -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=""
    done
    [ -n "$ok" ] && break
    sleep 0.1
done
[ -n "$ok" ] || die "the cluster did not reach cluster_state:ok within 10 s"

free_port
FAULT_PORT=$PORT

CLUSTER_URLS=""
for p in "${CLUSTER_PORTS[@]}"; do
    CLUSTER_URLS="${CLUSTER_URLS:+$CLUSTER_URLS,}redis://127.0.0.1:$p"
done

export SCRIPTLING_KV_REDIS_URL="redis://127.0.0.1:$STANDALONE_PORT"
export SCRIPTLING_KV_REDIS_AUTH_URL="redis://:$PASSWORD@127.0.0.1:$AUTH_PORT"
export SCRIPTLING_KV_REDIS_AUTH_ADDR="127.0.0.1:$AUTH_PORT"
export SCRIPTLING_KV_REDIS_CLUSTER="$CLUSTER_URLS"
export SCRIPTLING_KV_REDIS_SERVER="$REDIS_SERVER"
export SCRIPTLING_KV_REDIS_CLI="$REDIS_CLI"
export SCRIPTLING_KV_REDIS_FAULT_PORT="$FAULT_PORT"
export SCRIPTLING_KV_REDIS_TMP="$WORK"
if [ -n "$TLS_URL" ]; then
    export SCRIPTLING_KV_REDIS_TLS_URL="$TLS_URL"
    export SCRIPTLING_KV_REDIS_TLS_CA="$TLS_CA"
fi
log "standalone $SCRIPTLING_KV_REDIS_URL, auth 127.0.0.1:$AUTH_PORT, ${TLS_URL:+tls $TLS_URL, }cluster $CLUSTER_URLS, fault port $FAULT_PORT"

set +e
"$@"
status=$?
set -e
exit "$status"
