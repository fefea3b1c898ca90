//! Tests of the linearizability checker itself (no loom model): it must accept linearizable
//! histories and reject the anomalies the models are there to catch.
#![cfg(scriptling_kv_loom)]

mod common;
use common::{int, linearizable, s, Event, Op, Op::*, Ret};
use scriptling_kv::Ttl;
use std::time::Duration;

fn ev(thread: usize, start: u64, end: u64, op: Op, ret: Ret) -> Event {
    Event {
        thread,
        start,
        end,
        op,
        ret,
    }
}

#[test]
fn accepts_concurrent_increments_in_either_order() {
    // The +10 first...
    let h = [
        ev(0, 0, 1, Set("n", int(0)), Ret::Unit),
        ev(0, 2, 5, Incr("n", 1), Ret::Incr(Ok(11))),
        ev(1, 3, 4, Incr("n", 10), Ret::Incr(Ok(10))),
        ev(0, 6, 7, Get("n"), Ret::Value(Some(int(11)))),
    ];
    assert_eq!(linearizable(&h), Ok(()));
    // ...or the +1 first.
    let h = [
        ev(0, 0, 1, Set("n", int(0)), Ret::Unit),
        ev(0, 2, 5, Incr("n", 1), Ret::Incr(Ok(1))),
        ev(1, 3, 4, Incr("n", 10), Ret::Incr(Ok(11))),
        ev(0, 6, 7, Get("n"), Ret::Value(Some(int(11)))),
    ];
    assert_eq!(linearizable(&h), Ok(()));
}

#[test]
fn expire_judged_live_cannot_land_after_a_read_saw_the_key_expired() {
    // expire overlaps the advance, so it may be placed before it (and return true)...
    let revived = |exists_after_advance: bool| {
        [
            ev(0, 0, 1, SetTtl("k", int(5), 10), Ret::Unit),
            ev(0, 2, 3, Advance(9), Ret::Unit),
            ev(0, 4, 11, Expire("k", 60), Ret::Bool(true)),
            ev(1, 5, 6, Advance(2), Ret::Unit),
            ev(1, 7, 8, Exists("k"), Ret::Bool(exists_after_advance)),
            ev(0, 12, 13, Get("k"), Ret::Value(Some(int(5)))),
        ]
    };
    assert_eq!(linearizable(&revived(true)), Ok(()));
    // ...but not if a read after the advance saw the key absent and a later read sees it again.
    assert!(linearizable(&revived(false)).is_err());
}

#[test]
fn set_with_ttl_counts_from_a_reading_during_the_call() {
    let h = |ttl_after: u64| {
        [
            ev(0, 0, 5, SetTtl("k", int(1), 10), Ret::Unit),
            ev(1, 1, 2, Advance(3), Ret::Unit),
            ev(
                0,
                6,
                7,
                Ttl("k"),
                Ret::Ttl(Ttl::Expires(Duration::from_secs(ttl_after))),
            ),
        ]
    };
    // The TTL may count from the clock before the advance (7 s left) or after it (10 s)...
    assert_eq!(linearizable(&h(7)), Ok(()));
    assert_eq!(linearizable(&h(10)), Ok(()));
    // ...but not from anything else.
    assert!(linearizable(&h(8)).is_err());
    // An advance that returned before the call began is always counted.
    let before = [
        ev(1, 0, 1, Advance(3), Ret::Unit),
        ev(0, 2, 5, SetTtl("k", int(1), 10), Ret::Unit),
        ev(
            0,
            6,
            7,
            Ttl("k"),
            Ret::Ttl(Ttl::Expires(Duration::from_secs(7))),
        ),
    ];
    assert!(linearizable(&before).is_err());
}

#[test]
fn keys_lists_every_key_live_throughout_and_none_absent_throughout() {
    let keys = |listed: &[&str]| Ret::Keys(listed.iter().map(|k| k.to_string()).collect());
    // `a` is live for the whole call, `b` is created during it: listing b is optional.
    let h = |listed: &[&str]| {
        [
            ev(0, 0, 1, Set("a", int(1)), Ret::Unit),
            ev(0, 2, 7, Keys("*"), keys(listed)),
            ev(1, 3, 4, Set("b", int(1)), Ret::Unit),
        ]
    };
    assert_eq!(linearizable(&h(&["a"])), Ok(()));
    assert_eq!(linearizable(&h(&["a", "b"])), Ok(()));
    assert!(linearizable(&h(&["b"])).is_err(), "a was live throughout");
    // A key absent for the whole call (written already expired) is never listed.
    let never_live = [
        ev(0, 0, 1, SetTtl("k", int(1), 1), Ret::Unit),
        ev(0, 2, 3, Advance(1), Ret::Unit),
        ev(0, 4, 5, Keys("*"), keys(&["k"])),
    ];
    assert!(linearizable(&never_live).is_err());
}

#[test]
fn rejects_a_lost_update() {
    let h = [
        ev(0, 0, 1, Set("n", int(0)), Ret::Unit),
        ev(0, 2, 5, Incr("n", 1), Ret::Incr(Ok(1))),
        ev(1, 3, 4, Incr("n", 10), Ret::Incr(Ok(10))),
        ev(0, 6, 7, Get("n"), Ret::Value(Some(int(10)))),
    ];
    assert!(linearizable(&h).is_err());
}

#[test]
fn respects_real_time_order() {
    // The get ended before the set began, so it cannot see the set's value.
    let h = [
        ev(0, 0, 1, Get("k"), Ret::Value(Some(int(1)))),
        ev(1, 2, 3, Set("k", int(1)), Ret::Unit),
    ];
    assert!(linearizable(&h).is_err());
}

#[test]
fn rejects_a_value_with_another_writes_ttl() {
    let h = [
        ev(0, 0, 1, SetTtl("k", s("ttl=10"), 10), Ret::Unit),
        ev(1, 2, 9, Set("k", s("persistent")), Ret::Unit),
        ev(0, 3, 4, Get("k"), Ret::Value(Some(s("persistent")))),
        ev(
            0,
            5,
            6,
            Ttl("k"),
            Ret::Ttl(Ttl::Expires(Duration::from_secs(10))),
        ),
    ];
    assert!(linearizable(&h).is_err());
}

#[test]
fn rejects_a_stranded_increment() {
    // delete returned false (the key had expired), so it came before the incr, whose counter
    // must then be visible.
    let h = [
        ev(0, 0, 1, SetTtl("k", int(5), 1), Ret::Unit),
        ev(0, 2, 3, Advance(1), Ret::Unit),
        ev(0, 4, 7, Incr("k", 1), Ret::Incr(Ok(1))),
        ev(1, 5, 6, Delete("k"), Ret::Bool(false)),
        ev(0, 8, 9, Get("k"), Ret::Value(None)),
    ];
    assert!(linearizable(&h).is_err());
}

#[test]
fn purge_may_skip_but_never_remove_a_live_key_and_purge_all_misses_nothing() {
    let base = [
        ev(0, 0, 1, SetTtl("k", int(1), 1), Ret::Unit),
        ev(0, 2, 3, Advance(1), Ret::Unit),
    ];
    let with = |more: &[Event]| [&base[..], more].concat();
    // A concurrent purge that skipped the expired key is fine...
    assert_eq!(
        linearizable(&with(&[ev(0, 4, 5, Purge, Ret::Count(0))])),
        Ok(())
    );
    // ...a purge alone must remove it...
    assert!(linearizable(&with(&[ev(0, 4, 5, PurgeAll, Ret::Count(0))])).is_err());
    // ...and no purge removes a key that was live all along.
    let live = [
        ev(0, 0, 1, SetTtl("k", int(1), 5), Ret::Unit),
        ev(0, 2, 3, Purge, Ret::Count(1)),
    ];
    assert!(linearizable(&live).is_err());
}

#[test]
fn clear_is_checked_per_key() {
    // Not a snapshot: clear may remove `a` before and `b` after a thread that wrote b then a.
    let h = [
        ev(0, 0, 1, Set("a", int(1)), Ret::Unit),
        ev(0, 2, 3, Set("b", int(1)), Ret::Unit),
        ev(0, 4, 9, Clear, Ret::Unit),
        ev(1, 5, 6, Set("b", int(2)), Ret::Unit),
        ev(1, 7, 8, Set("a", int(2)), Ret::Unit),
        ev(0, 10, 11, Get("a"), Ret::Value(Some(int(2)))),
        ev(0, 12, 13, Get("b"), Ret::Value(None)),
    ];
    assert_eq!(linearizable(&h), Ok(()));
    // But a key nobody wrote again is always gone.
    let h = [
        ev(0, 0, 1, Set("a", int(1)), Ret::Unit),
        ev(0, 2, 3, Clear, Ret::Unit),
        ev(0, 4, 5, Get("a"), Ret::Value(Some(int(1)))),
    ];
    assert!(linearizable(&h).is_err());
}
