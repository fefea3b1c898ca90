#!/usr/bin/env bash
# Regenerates BENCHMARKS.md and benches/throughput.svg (+ .png if rsvg-convert is installed):
# runs the six bench binaries (throughput, purge, memory, snapshot, capabilities, lru_get) with
# BENCH_OUT set, the A/B of the default store before and after issue 20's features
# (scripts/ab.sh: builds the tree before them under target/ab/; skipped with BENCH_QUICK unless
# BENCH_AB=1),
# the Redis comparison (redis/benches/ops.rs and scripts/load.sh, under scripts/with-redis.sh),
# profiles the single-thread get / set_with_ttl / incr loops under callgrind (if valgrind is
# installed), and renders the report with benches/report/gen.py (Python 3, standard library only).
#
#   scripts/bench-report.sh            # full run (~10 minutes on 2 cores), rewrites the report
#   BENCH_QUICK=1 scripts/bench-report.sh
#                                      # smoke run (~1 minute incl. build); writes the report into
#                                      # the results dir instead of the repository
#
# Environment: CARGO_TARGET_DIR (default target/bench), BENCH_RESULTS (default
# $CARGO_TARGET_DIR/bench-results).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/bench}"
results="${BENCH_RESULTS:-$CARGO_TARGET_DIR/bench-results}"
rm -rf "$results"
mkdir -p "$results"
export BENCH_OUT="$results"
quick="${BENCH_QUICK:-}"

echo "== building benches"
cargo bench --no-run --bench throughput --bench purge --bench memory --bench snapshot --bench capabilities --bench lru_get

{
    echo "CPU: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"
    echo "cores available: $(nproc) ($(lscpu 2>/dev/null | sed -n 's/^Thread(s) per core: *//p' | head -1) thread(s) per core)"
    echo "memory: $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "kernel: $(uname -sr)"
    echo "rustc: $(rustc -V)"
    echo "profile: cargo bench (release, debuginfo on)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (src/ modified)')"
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    if [ -n "$quick" ]; then echo "mode: BENCH_QUICK (smoke sizes: not for comparison)"; fi
} > "$results/machine.txt"
cat "$results/machine.txt"

start=$(date +%s)
for bench in throughput purge memory snapshot capabilities lru_get; do
    echo "== cargo bench --bench $bench"
    echo "load average before $bench: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$results/machine.txt"
    cargo bench --bench "$bench"
done
if [ -z "$quick" ] || [ -n "${BENCH_AB:-}" ]; then
    echo "== scripts/ab.sh (the default store before and after issue 20's features)"
    echo "load average before the A/B: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$results/machine.txt"
    scripts/ab.sh
fi
echo "load average after the benches: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$results/machine.txt"

if command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null; then
    bin="$(cargo bench --no-run --bench throughput --message-format=json 2>/dev/null \
        | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "throughput" and m.get("executable"):
        print(m["executable"])')"
    for op in get get-stats set incr expire purge keys flurry-get flurry-set flurry-incr; do
        case "$op" in
            purge) ops=100000; [ -n "$quick" ] && ops=10000 ;;  # expired keys removed
            keys) ops=1000000; [ -n "$quick" ] && ops=100000 ;; # stored keys scanned
            *) ops=100000; [ -n "$quick" ] && ops=10000 ;;
        esac
        fn="${op%-stats}"
        fn="${fn//-/_}" # flurry-get: the loop profile_flurry_get
        echo "== callgrind: $op x $ops"
        BENCH_PROFILE=$op BENCH_PROFILE_OPS=$ops valgrind --tool=callgrind \
            --callgrind-out-file="$results/callgrind.$op.out" \
            --toggle-collect="*profile_${fn}*" "$bin" > /dev/null 2> "$results/callgrind.$op.log"
        { echo "# ops: $ops"; callgrind_annotate --threshold=100 "$results/callgrind.$op.out"; } \
            > "$results/callgrind-$op.txt"
    done
else
    echo "(valgrind not installed: the report keeps no raw profile; apt-get install valgrind)"
fi
# Going distributed: the AsyncKv operations and the HTTP main job, in-process and on Redis
# (scripts/with-redis.sh starts the servers, installing redis-server if missing; load.sh
# installs wrk if missing).
echo "== redis: cargo bench -p scriptling-kv-redis --bench ops, scripts/load.sh"
if [ -n "$quick" ]; then
    dist_env=(BENCH_SECS=0.3 BENCH_RUNS=1 DURATION=2s) load_runs=1
else
    dist_env=() load_runs=3
fi
env "${dist_env[@]}" scripts/with-redis.sh bash -c '
    cargo bench -p scriptling-kv-redis --bench ops > "$1/redis-ops.txt" &&
    scripts/load.sh "$2" > "$1/load.txt"' _ "$results" "$load_runs"
cat "$results/redis-ops.txt" "$results/load.txt"

echo "benches took $(( $(date +%s) - start )) s" | tee -a "$results/machine.txt"
sed -i 's/^benches took \(.*\)$/run time: \1/' "$results/machine.txt"

out="$root"
if [ -n "$quick" ]; then
    out="$results/report"
    mkdir -p "$out/benches"
fi
python3 benches/report/gen.py "$results" "$root" "$out"
if command -v rsvg-convert >/dev/null; then
    rsvg-convert -b white -o "$out/benches/throughput.png" "$out/benches/throughput.svg"
fi
echo "== wrote $out/BENCHMARKS.md and $out/benches/throughput.svg"
