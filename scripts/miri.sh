#!/usr/bin/env bash
# Runs tests/miri_subset.rs under miri: the store's unsafe core (slot CAS and retirement, Entry
# drop deferring through crossbeam-epoch, the table unlink path, the wheel and purge) on a
# workload small enough for the interpreter, with 2-3 threads under miri's scheduler.
#
#   scripts/miri.sh                   default flags, scheduler seeds 0..MIRI_SEEDS (default 2)
#   MIRI_SEEDS=8 scripts/miri.sh      more interleavings (one full run per seed)
#   MIRIFLAGS="..." scripts/miri.sh   other flags (replaces the defaults)
#
# The default flags are the strictest our dependencies pass (what was tried and why is in
# fuzz/VERIFICATION-rows.md):
#   -Zmiri-tree-borrows          crossbeam-epoch is not Stacked-Borrows clean (its intrusive
#                                list reborrows through `&` references: crossbeam issue #545; its
#                                own CI runs miri with Tree Borrows); our code is checked the same.
#   -Zmiri-permissive-provenance crossbeam-epoch stores pointers as tagged integers and casts them
#                                back; this is miri's default anyway, the flag only mutes the
#                                warning. Strict provenance rejects those casts.
#   leak checking ON             with one exception, below.
#
# Leaks: every test ends by dropping its store and letting crossbeam-epoch run everything retired
# (`quiesce`), so none of our allocations (slots, entries, values) may be left at exit. A few of
# crossbeam-epoch's own bookkeeping blocks always are (its global queue's nodes and the record of
# the last thread that pinned: the global collector is never dropped, and miri cannot follow the
# tagged integers it reaches them through). This script accepts a failing exit only when the tests
# all passed, there is no other error, and every leaked block was allocated as one of those two
# crossbeam-epoch types; anything else leaked (a `Slot`, an `Entry`, a `Value`'s buffer) fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "miri.sh: the nightly toolchain is not installed (rustup toolchain install nightly)" >&2
    exit 1
fi
installed=$(rustup component list --toolchain nightly --installed 2>/dev/null || true)
if ! grep -q '^miri' <<<"$installed" || ! grep -q '^rust-src' <<<"$installed"; then
    echo "miri.sh: adding the miri and rust-src components to nightly" >&2
    if ! rustup component add miri rust-src --toolchain nightly; then
        echo "miri.sh: FAILED to install miri; cannot run the miri subset" >&2
        exit 1
    fi
fi

flags="${MIRIFLAGS:--Zmiri-tree-borrows -Zmiri-permissive-provenance}"
if [[ "$flags" == *ignore-leaks* ]]; then
    echo "miri.sh: MIRIFLAGS contains -Zmiri-ignore-leaks, which would make the leak check vacuous" >&2
    exit 2
fi
seeds="${MIRI_SEEDS:-2}"
[[ $seeds =~ ^[0-9]+$ && $seeds -ge 1 ]] || {
    echo "miri.sh: MIRI_SEEDS must be a positive integer" >&2
    exit 2
}

start=$SECONDS
cargo +nightly miri setup >/dev/null 2>&1 || cargo +nightly miri setup

# The only allocations allowed to outlive the program (first backtrace frame of a leak report).
allowed_leak='^ *0: <crossbeam_epoch::(internal::Local|sync::queue::Node<crossbeam_epoch::internal::SealedBag>) as crossbeam_epoch::(atomic::)?Pointable>::init$'

log_dir="${CARGO_TARGET_DIR:-target}/miri-logs"
mkdir -p "$log_dir"
for ((seed = 0; seed < seeds; seed++)); do
    log="$log_dir/seed-$seed.log"
    echo "miri.sh: seed $seed, MIRIFLAGS=$flags -Zmiri-seed=$seed"
    set +e
    MIRIFLAGS="$flags -Zmiri-seed=$seed" cargo +nightly miri test --test miri_subset >"$log" 2>&1
    status=$?
    set -e
    grep -E '^test |^test result' "$log" || true
    if [[ $status -eq 0 ]]; then
        continue
    fi
    leaks=$(grep -c '^error: memory leaked' "$log" || true)
    allowed=$(awk '/^error: memory leaked/ { want = 1; next } want && /^ *0: / { print; want = 0 }' "$log" |
        grep -cE "$allowed_leak" || true)
    errors=$(grep -oE '^error: aborting due to [0-9]+ previous error' "$log" | grep -oE '[0-9]+' || echo 0)
    if grep -q '^test result: ok\.' "$log" && ! grep -q 'Undefined Behavior' "$log" &&
        [[ $leaks -gt 0 && $allowed -eq $leaks && $errors -eq $leaks ]]; then
        echo "miri.sh: seed $seed ok ($leaks leaked blocks, all crossbeam-epoch bookkeeping)"
        continue
    fi
    echo "----- miri FAILED on seed $seed (exit $status; $leaks leaks, $allowed allowed," \
        "$errors errors); full log: $log" >&2
    { grep -v '^ *Compiling' "$log" | head -n 150 >&2; } || true
    exit 1
done
echo "miri.sh: passed ($seeds seed(s)) in $((SECONDS - start)) s"
