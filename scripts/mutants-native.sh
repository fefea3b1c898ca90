#!/usr/bin/env bash
# Runs the mutants that native (non-loom) tests must catch: each is a `mod mutant` hook in src/
# compiled in with `--cfg scriptling_kv_mutant="NAME"` (through loom-tests/mutant-rustc, which
# adds the cfg to the scriptling_kv library only), then the named test must FAIL with the given
# text. Exits non-zero if a mutant survives, or fails for another reason, or if the library was
# not rebuilt with the mutant (checked with the wrapper's stamp file).
#
#   scripts/mutants-native.sh            every mutant below
#   scripts/mutants-native.sh NAME...    only these
#
# Target directory: target/mutants-native (dependencies are built once; each mutant rebuilds
# the one crate). Logs: target/mutants-native/logs/.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# mutant | test target | test | text the failure must contain (an extended regular expression).
# early_unpin is a use-after-free: the reader's slot is recycled while its closure runs, so the
# value it reads is either another value (the assertion) or garbage whose length makes the clone
# ask for an impossible allocation (an abort); both are the mutant caught, nothing else is.
table='
early_unpin|miri_subset|reader_outlives_replace_delete_clear_and_purge|left == right|memory allocation of [0-9]+ bytes failed
no_recycle|miri_subset|recycled_slots_are_reused_under_readers|no write reused a retired slot allocation
split_ttl|concurrency|value_and_ttl_always_come_from_the_same_write|panicked
lost_create|concurrency|racing_creators_of_a_missing_key_get_1_to_n|panicked
compact_keeps_duplicates|expiry|shortening_a_ttl_inside_one_wide_slot_piles_up_no_records_and_expires_on_time|records pending for 2 keys
cascade_drops_all|expiry|expires_exactly_at_the_deadline_across_every_wheel_boundary|panicked
'

export CARGO_TARGET_DIR="$root/target/mutants-native"
export RUSTC_WRAPPER="$root/loom-tests/mutant-rustc"
export SCRIPTLING_KV_MUTANT_STAMP="$CARGO_TARGET_DIR/mutant-stamp"
unset SCRIPTLING_KV_MUTANT
logs="$CARGO_TARGET_DIR/logs"
mkdir -p "$logs"

wanted=("$@")
start=$(date +%s)
caught=0
failed=0
summary=()
while IFS='|' read -r m target test expect; do
    [[ -z "$m" ]] && continue
    if ((${#wanted[@]})) && [[ ! " ${wanted[*]} " == *" $m "* ]]; then continue; fi
    log="$logs/$m.log"
    rm -f "$SCRIPTLING_KV_MUTANT_STAMP"
    if ! cargo clean -q -p scriptling-kv; then
        echo "mutants-native: 'cargo clean -p scriptling-kv' failed" >&2
        exit 2
    fi
    t0=$(date +%s)
    SCRIPTLING_KV_MUTANT="$m" cargo test -q --test "$target" -- --exact "$test" >"$log" 2>&1
    rc=$?
    stamp=$(cat "$SCRIPTLING_KV_MUTANT_STAMP" 2>/dev/null || echo "<not rebuilt>")
    secs=$(($(date +%s) - t0))
    if [[ "$stamp" != "$m" ]]; then
        failed=$((failed + 1))
        summary+=("ERROR     $m: library built with '$stamp'")
    elif ((rc == 0)); then
        failed=$((failed + 1))
        summary+=("SURVIVED  $m  vs  $target::$test (${secs}s)")
    elif grep -qE -- "$expect" "$log"; then
        caught=$((caught + 1))
        summary+=("killed    $m  vs  $target::$test (${secs}s)")
    else
        failed=$((failed + 1))
        summary+=("ERROR     $m  vs  $target::$test: failed without '$expect' (${secs}s; $log)")
    fi
done <<<"$table"
# Leave no mutant library behind.
cargo clean -q -p scriptling-kv || exit 2

echo "=== native mutants ($(($(date +%s) - start))s)"
printf '  %s\n' "${summary[@]}"
echo "mutants-native: $caught passed, $failed failed"
((failed == 0 && caught > 0))
