//! Models of the conditional writes: each is one linearizable step, also against a racing
//! writer and against time passing (the key expiring) while it runs.
#![cfg(scriptling_kv_loom)]

mod common;
use common::{check, int, s, scenario, Op::*};

/// Two `set_if_absent`s and a `delete` race: every history is linearizable, so at most one
/// `set_if_absent` wins before the delete (exactly one if both run first). Mutant `two_steps`
/// (`exists`, then `set_with_ttl`: the recipe without `set_if_absent`) fails it with two
/// winners.
#[test]
fn set_if_absent_racing_set_if_absent_and_delete_has_one_winner() {
    check(
        "set_if_absent_racing_set_if_absent_and_delete_has_one_winner",
        3,
        scenario(
            &[],
            &[
                &[SetIfAbsent("lock", s("a"), 10)],
                &[SetIfAbsent("lock", s("b"), 10), Delete("lock")],
            ],
            &[Get("lock"), Ttl("lock")],
        ),
    );
}

/// `compare_and_delete` of my token racing a `set` of someone else's: never deletes the newer
/// value. Mutant `two_steps` (`get`, compare, then `delete`) fails it.
#[test]
fn compare_and_delete_never_deletes_a_newer_value() {
    check(
        "compare_and_delete_never_deletes_a_newer_value",
        3,
        scenario(
            &[Set("lock", s("mine"))],
            &[
                &[CompareAndDelete("lock", s("mine"))],
                &[Set("lock", s("theirs"))],
            ],
            &[Get("lock")],
        ),
    );
}

/// Two `take`s of one token: exactly one gets it. Mutant `two_steps` (`get`, then `delete`)
/// fails it.
#[test]
fn take_racing_take_hands_the_value_to_one() {
    check(
        "take_racing_take_hands_the_value_to_one",
        3,
        scenario(
            &[Set("token", s("t"))],
            &[&[Take("token")], &[Take("token")]],
            &[Get("token")],
        ),
    );
}

/// `incr_with_ttl` racing the expiry of the previous window and a reader: a key it creates always
/// has its TTL (a reader never sees the new counter without one). Mutant `two_steps` (`incr`,
/// then `expire` if it created the key) fails it.
#[test]
fn incr_with_ttl_racing_expiry_always_gives_a_created_key_its_ttl() {
    check(
        "incr_with_ttl_racing_expiry_always_gives_a_created_key_its_ttl",
        3,
        scenario(
            &[SetTtl("rate", int(5), 1)],
            &[&[IncrWithTtl("rate", 1, 10)], &[Advance(1), Ttl("rate")]],
            &[Get("rate"), Ttl("rate")],
        ),
    );
}

/// `swap` and `compare_and_set` racing each other and a `set`: each is one step (the value a swap
/// returns is the one it replaced; a compare_and_set succeeds only on the value it saw).
#[test]
fn swap_and_compare_and_set_racing_are_linearizable() {
    check(
        "swap_and_compare_and_set_racing_are_linearizable",
        2,
        scenario(
            &[Set("k", int(1))],
            &[
                &[Swap("k", int(2), 0), CompareAndSet("k", int(3), int(4))],
                &[CompareAndSet("k", int(2), int(3)), Set("k", int(9))],
            ],
            &[Get("k")],
        ),
    );
}
