//! Models of the cleaner's claims: `purge_expired` (what the background cleaner runs each tick)
//! racing `expire`, `persist` and `set` never removes a key that was refreshed, and never misses
//! an expired key forever: after the race, a purge on a quiet store (clock advanced past every
//! deadline that should have passed) must remove exactly the expired keys ([`Op::PurgeAll`] and
//! the final `len`).
#![cfg(scriptling_kv_loom)]

mod common;
use common::{check, s, scenario, Op::*};

/// The clock reaches the key's deadline and the cleaner runs while `expire` extends the TTL:
/// if `expire` won (returned `true`) the key must survive the purge and be purged once its new
/// deadline passes. Mutants `skip_recheck` (the visitor kills without re-reading the deadline)
/// and `reset_after_load` (the visitor reads the slot before releasing its schedule claim, so a
/// moved deadline is never re-scheduled) fail it.
#[test]
fn cleaner_never_removes_an_extended_key() {
    check(
        "cleaner_never_removes_an_extended_key",
        4,
        scenario(
            &[SetTtl("k", s("a"), 1)],
            &[&[Advance(1), Purge], &[Expire("k", 10)]],
            &[Get("k"), Ttl("k"), Len, Advance(10), PurgeAll, Len],
        ),
    );
}

/// The same with `persist`: a persisted key is never purged; one that expired first is purged.
/// Mutant `skip_recheck` fails it.
#[test]
fn cleaner_never_removes_a_persisted_key() {
    check(
        "cleaner_never_removes_a_persisted_key",
        4,
        scenario(
            &[SetTtl("k", s("a"), 2)],
            &[&[Advance(2), Purge], &[Persist("k")]],
            &[Get("k"), Ttl("k"), Len, Advance(100), PurgeAll, Len],
        ),
    );
}

/// The key has already expired; the cleaner races `set_with_ttl` setting it again with a new
/// TTL: the new value must survive the purge, and be purged after its own deadline. Mutant
/// `skip_recheck` fails it.
#[test]
fn cleaner_never_removes_a_key_set_again() {
    check(
        "cleaner_never_removes_a_key_set_again",
        4,
        scenario(
            &[SetTtl("k", s("a"), 1), Advance(1)],
            &[&[Purge], &[SetTtl("k", s("b"), 5)]],
            &[Get("k"), Ttl("k"), Len, Advance(5), PurgeAll, Len],
        ),
    );
}

/// Never misses an expired key forever, through the schedule-claim protocol: the key's only
/// expiry record is stale (the key was persisted after it was scheduled) and the cleaner visits
/// it while `expire` gives the key a TTL again. Either the writer pushes a new record or the
/// visitor sees the new deadline and re-schedules it; a purge after that deadline must remove the
/// key. Mutant `reset_after_load` (the visitor releases the entry's claim after reading the
/// slot, so a writer in between pushes nothing and the visitor saw no deadline) fails it.
#[test]
fn cleaner_never_loses_a_ttl_set_during_a_visit() {
    check(
        "cleaner_never_loses_a_ttl_set_during_a_visit",
        4,
        scenario(
            &[SetTtl("k", s("a"), 1), Persist("k"), Advance(1)],
            &[&[Purge], &[Expire("k", 10)]],
            &[Get("k"), Ttl("k"), Len, Advance(10), PurgeAll, Len],
        ),
    );
}

/// Three threads: the clock reaches the deadline, the cleaner runs, and `expire` extends the TTL,
/// each on its own thread (so the cleaner's clock reading, the advance and the extension can be
/// ordered every way). Mutant `skip_recheck` fails it.
#[test]
fn cleaner_never_removes_an_extended_key_three_threads() {
    check(
        "cleaner_never_removes_an_extended_key_three_threads",
        3,
        scenario(
            &[SetTtl("k", s("a"), 1)],
            &[&[Purge], &[Advance(1)], &[Expire("k", 10)]],
            &[Get("k"), Ttl("k"), Len, Advance(10), PurgeAll, Len],
        ),
    );
}
