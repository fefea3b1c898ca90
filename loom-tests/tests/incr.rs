//! Models of the `incr` claims: no lost update, racing creators agree on one entry, and a
//! `delete` racing an `incr` cannot strand the increment.
#![cfg(scriptling_kv_loom)]

mod common;
use common::{check, int, scenario, Op::*};

/// "incr never loses an update" (crate docs, "Consistency") (and every single-key operation is linearizable): two
/// threads increment one existing counter (one of them twice); the results must be distinct, and the final value
/// their sum. Mutant `incr_cas_as_store` (the slot CAS becomes a load-compare-store) fails it.
#[test]
fn incr_never_loses_an_update() {
    check(
        "incr_never_loses_an_update",
        4,
        scenario(
            &[Set("n", int(0))],
            &[&[Incr("n", 1)], &[Incr("n", 10), Incr("n", 100)]],
            &[Get("n")],
        ),
    );
}

/// Racing creators of a missing key agree on one entry: two `incr`s of a key that does not
/// exist; one creates it, the other must add to the winner's value, and the table must hold one
/// entry. Mutant `lost_create` (the loser of `insert_if_absent` returns as if it had won) fails it.
#[test]
fn racing_creators_agree_on_one_entry() {
    check(
        "racing_creators_agree_on_one_entry",
        3,
        scenario(&[], &[&[Incr("c", 1)], &[Incr("c", 10)]], &[Get("c"), Len]),
    );
}

/// `delete` racing `incr` cannot strand an increment: the key has expired, so a `delete` that
/// linearizes first returns `false` and the `incr` must then create a visible counter; a `delete`
/// that linearizes after the `incr` returns `true` and removes it. The checker accepts exactly
/// these outcomes. An `incr` whose CAS lands in an entry that `delete` already unlinked would
/// return `Ok(1)` with nothing visible afterwards, after a `delete` that returned `false`. Mutant
/// `no_tombstone` (delete unlinks without killing the entry) fails it.
#[test]
fn delete_racing_incr_strands_no_increment() {
    check(
        "delete_racing_incr_strands_no_increment",
        4,
        scenario(
            &[SetTtl("k", int(5), 1), Advance(1)],
            &[&[Incr("k", 1)], &[Delete("k")]],
            &[Get("k"), Len],
        ),
    );
}

/// The same race on a live key: `incr` returns 6 and the `delete` removes it, or the `delete`
/// goes first and `incr` recreates the counter at 1, visible afterwards. (An increment stranded
/// in an unlinked entry is indistinguishable here from one ordered before the `delete`; what this
/// model catches is a write into a *dead* entry.) Mutant `revive_dead` (a writer that finds the
/// tombstone writes into it instead of creating a new entry) fails it.
#[test]
fn delete_racing_incr_on_live_key_is_linearizable() {
    check(
        "delete_racing_incr_on_live_key_is_linearizable",
        4,
        scenario(
            &[Set("k", int(5))],
            &[&[Incr("k", 1)], &[Delete("k")]],
            &[Get("k"), Len],
        ),
    );
}

/// Three-way `incr` race (the same claim with a third thread), at a lower preemption bound.
#[test]
fn incr_never_loses_an_update_three_threads() {
    check(
        "incr_never_loses_an_update_three_threads",
        1,
        scenario(
            &[Set("n", int(0))],
            &[&[Incr("n", 1)], &[Incr("n", 10)], &[Incr("n", 100)]],
            &[Get("n")],
        ),
    );
}

/// An in-place `incr` racing `expire`/`persist` on a counter loses no update: both copy the
/// counter's value into a new slot, so they must seal it first (entry.rs, "Counters"); an add
/// that landed in the old slot after the copy would vanish. Mutant `no_seal` fails it.
#[test]
fn incr_racing_expire_and_persist_loses_no_update() {
    check(
        "incr_racing_expire_and_persist_loses_no_update",
        3,
        scenario(
            &[Set("n", int(0))],
            &[
                &[Incr("n", 1), Incr("n", 10)],
                &[Expire("n", 10), Persist("n")],
            ],
            &[Get("n"), Ttl("n")],
        ),
    );
}

/// An in-place `incr` racing an `incr` whose sum leaves the counter cell (so it replaces the
/// slot, copying the value): the copy must include the in-place add. Mutant `no_seal` (the
/// replacing `incr` reads the value without sealing the cell) fails it.
#[test]
fn in_place_incr_racing_a_replacing_incr_loses_no_update() {
    check(
        "in_place_incr_racing_a_replacing_incr_loses_no_update",
        3,
        scenario(
            &[Set("k", int(5))],
            &[&[Incr("k", 1)], &[Incr("k", (1 << 62) - 3)]],
            &[Get("k")],
        ),
    );
}
