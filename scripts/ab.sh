#!/usr/bin/env bash
# A/B of the default store before and after the issue-20 features (Eviction::Lru, max_bytes /
# bytes_used, Store::downgrade / WeakStore; merged into main by f3c8148): the read-heavy, mixed
# and hot-key `incr` cases of benches/throughput.rs at 2 threads, from one source
# (benches/ab/ab.rs, std + scriptling-kv only) built twice: against the tree at AB_OLD (default
# f3c8148^1, main just before that merge) and against this tree. The two binaries run
# alternately (old first in odd rounds, new first in even ones), AB_RUNS rounds, each round one
# 300 ms window per case per binary; the summary gives per case the median of the per-round
# ratios new / old with their range.
#
#   scripts/ab.sh                      # 7 rounds (~1 minute after the two builds)
#   AB_RUNS=11 scripts/ab.sh
#
# Environment: AB_OLD (revision), AB_RUNS, AB_DIR (work dir, default target/ab: the old tree is
# a detached git worktree there, each side has its own generated package and target dir),
# AB_WINDOW_MS / AB_THREADS / AB_KEYS (passed to the binary), BENCH_OUT (also write
# $BENCH_OUT/ab.jsonl for the report). Output: $AB_DIR/ab.jsonl and the summary on stdout.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
old_rev="$(git rev-parse --verify "${AB_OLD:-f3c8148^1}^{commit}")"
new_rev="$(git rev-parse HEAD)$(git diff --quiet HEAD -- src 2>/dev/null || echo '+src-modified')"
runs="${AB_RUNS:-7}"
work="${AB_DIR:-$root/target/ab}"
mkdir -p "$work"
work="$(cd "$work" && pwd)"

old_tree="$work/old-tree"
if [ ! -e "$old_tree/.git" ]; then
    git worktree add --detach "$old_tree" "$old_rev" >/dev/null
else
    git -C "$old_tree" checkout --quiet --detach "$old_rev"
fi

build() { # side tree -> path of the binary
    local side="$1" tree="$2" dir="$work/pkg-$1"
    mkdir -p "$dir"
    cat > "$dir/Cargo.toml" <<TOML
[package]
name = "ab-$side"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[[bin]]
name = "ab"
path = "$root/benches/ab/ab.rs"

[dependencies]
scriptling-kv = { path = "$tree", default-features = false }

[profile.release]
debug = true
TOML
    # The root lock file pins the same dependency versions on both sides.
    [ -f "$dir/Cargo.lock" ] || cp "$root/Cargo.lock" "$dir/Cargo.lock"
    CARGO_TARGET_DIR="$work/target-$side" cargo build --quiet --release \
        --manifest-path "$dir/Cargo.toml" >&2
    echo "$work/target-$side/release/ab"
}

echo "== building: old = $old_rev, new = $new_rev" >&2
old_bin="$(build old "$old_tree")"
new_bin="$(build new "$root")"

out="$work/ab.jsonl"
: > "$out"
echo "{\"kind\": \"ab-meta\", \"old\": \"$old_rev\", \"new\": \"$new_rev\", \"runs\": $runs, \"load\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >> "$out"
for ((i = 1; i <= runs; i++)); do
    if ((i % 2)); then order="old new"; else order="new old"; fi
    for side in $order; do
        bin="$old_bin"; [ "$side" = new ] && bin="$new_bin"
        "$bin" "$side" "$i" >> "$out"
    done
done
echo "{\"kind\": \"ab-meta-end\", \"load\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >> "$out"
if [ -n "${BENCH_OUT:-}" ]; then cp "$out" "$BENCH_OUT/ab.jsonl"; fi

python3 - "$out" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
meta = recs[0]
ab = [r for r in recs if r["kind"] == "ab"]
def med(v):
    v = sorted(v); n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
print(f"A/B, {meta['runs']} alternating rounds: old {meta['old'][:9]} vs new {meta['new'][:9]}")
print(f"{'case':<12} {'old Mops/s':>11} {'new Mops/s':>11} {'new/old median':>15} {'range':>13}")
for case in dict.fromkeys(r["case"] for r in ab):
    old = {r["rep"]: r["mops"] for r in ab if r["case"] == case and r["side"] == "old"}
    new = {r["rep"]: r["mops"] for r in ab if r["case"] == case and r["side"] == "new"}
    rs = [new[k] / old[k] for k in old if k in new and old[k] > 0]
    print(f"{case:<12} {med(list(old.values())):>11.2f} {med(list(new.values())):>11.2f} "
          f"{med(rs):>15.3f} {min(rs):>6.2f}–{max(rs):.2f}")
PY
