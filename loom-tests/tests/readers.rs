//! Models of the readers' claims: `get`, `ttl` and `exists` racing a writer (or the clock) see
//! either the old or the new state, and an expired key is absent from the instant it expires.
#![cfg(scriptling_kv_loom)]

mod common;
use common::{check, int, scenario, Op::*};

/// `get`/`ttl`/`exists` racing `set` then `delete`: every read is one of the states the writer
/// went through, in order. Mutant `ttl_double_load` (`ttl` loads the slot once to see whether
/// it has a deadline and again to read it) fails it.
#[test]
fn readers_see_old_or_new_state() {
    check(
        "readers_see_old_or_new_state",
        3,
        scenario(
            &[SetTtl("k", int(1), 10)],
            &[
                &[Set("k", int(2)), Delete("k")],
                &[Ttl("k"), Get("k"), Exists("k")],
            ],
            &[Get("k"), Len],
        ),
    );
}

/// An expired key is absent for every operation from the instant it expires, whether or not
/// the cleaner removed it: the clock is advanced to the key's deadline on one thread while
/// another reads it and increments it (an `incr` of an expired key starts over at `delta`, with
/// no TTL). Mutant `expiry_inclusive` (a key is still live at its deadline) fails it.
#[test]
fn expired_key_is_absent_from_the_instant_it_expires() {
    check(
        "expired_key_is_absent_from_the_instant_it_expires",
        4,
        scenario(
            &[SetTtl("k", int(5), 1)],
            &[&[Advance(1)], &[Get("k"), Ttl("k"), Incr("k", 1)]],
            &[Get("k"), Ttl("k"), Len],
        ),
    );
}

/// Three threads: the key expires (clock advance) while another thread increments it (an
/// `incr` keeps a live key's TTL, or restarts an expired one at `delta` with none) and a third
/// reads it. Mutant `expiry_inclusive` fails it.
#[test]
fn readers_racing_expiry_and_incr_see_old_or_new_state() {
    check(
        "readers_racing_expiry_and_incr_see_old_or_new_state",
        2,
        scenario(
            &[SetTtl("k", int(5), 1)],
            &[&[Get("k"), Ttl("k")], &[Advance(1)], &[Incr("k", 1)]],
            &[Get("k"), Ttl("k"), Len],
        ),
    );
}
