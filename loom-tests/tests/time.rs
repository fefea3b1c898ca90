//! Models of the claims that must hold while time passes during a write: a key that expired is
//! absent for every operation from that instant, even for a writer that judged it live a moment
//! before (the review's two holes: `expire`/`persist` reviving an expired key, `keys` listing a
//! key written already expired), and a write that keeps the TTL never overwrites a deadline moved
//! in place meanwhile.
#![cfg(scriptling_kv_loom)]

mod common;
use common::{check, int, scenario, Op::*};

/// `expire` judges the key live at 9 s; the clock passes its deadline (10 s) and a reader sees it
/// absent; `expire` must not bring it back afterwards. Mutant `no_mark` (seeing a key expired
/// does not mark its slot, so `expire`'s CAS still lands) fails it.
#[test]
fn expire_racing_expiry_never_revives_the_key() {
    check(
        "expire_racing_expiry_never_revives_the_key",
        3,
        scenario(
            &[SetTtl("k", int(5), 10), Advance(9)],
            &[&[Expire("k", 60)], &[Advance(2), Exists("k"), Ttl("k")]],
            &[Get("k"), Ttl("k")],
        ),
    );
}

/// The same with `persist`. Mutant `no_mark` fails it.
#[test]
fn persist_racing_expiry_never_revives_the_key() {
    check(
        "persist_racing_expiry_never_revives_the_key",
        3,
        scenario(
            &[SetTtl("k", int(5), 10), Advance(9)],
            &[&[Persist("k")], &[Advance(2), Get("k")]],
            &[Get("k"), Ttl("k")],
        ),
    );
}

/// `keys` racing writes and the clock, checked against the linearizable specification (a key it
/// lists was live at some point of the call, one it leaves out absent at some point).
#[test]
fn keys_racing_a_write_and_the_clock_is_consistent() {
    check(
        "keys_racing_a_write_and_the_clock_is_consistent",
        2,
        scenario(
            &[Set("a", int(1))],
            &[&[Keys("*")], &[SetTtl("k", int(2), 1)], &[Advance(1)]],
            &[Ttl("k"), Keys("*")],
        ),
    );
}

/// `set_with_ttl` reads the clock, the clock advances past the deadline it computed, and only then
/// does its write land: the key was never live, in real time, and a `keys` walking meanwhile
/// must not list it. (The linearizability check above cannot see this: it may place the write at
/// its clock reading. Here the advancing thread witnesses the order: if the key is not in the
/// table yet right after the advance, the write landed after it.) Mutant `keys_early_reading`
/// (`keys` judges against a reading taken before its walk) fails it.
#[test]
fn keys_never_lists_a_key_written_already_expired() {
    common::model("keys_never_lists_a_key_written_already_expired", 1, || {
        let (store, clock) = common::new_store();
        let walker = {
            let store = store.clone();
            loom::thread::spawn(move || store.keys("*").unwrap())
        };
        let writer = {
            let store = store.clone();
            loom::thread::spawn(move || {
                store.set_with_ttl("k", 2, std::time::Duration::from_secs(1));
            })
        };
        clock.advance(std::time::Duration::from_secs(1));
        let written_after_the_advance = store.len() == 0;
        writer.join().unwrap();
        let listed = walker.join().unwrap();
        // Deadline 1 s (the writer read the clock before the advance) and written after it: the
        // key was never live.
        let never_live = written_after_the_advance && store.ttl("k") == scriptling_kv::Ttl::Missing;
        if never_live && listed.iter().any(|k| k == "k") {
            return Err(format!("keys listed a key that was never live: {listed:?}"));
        }
        Ok(())
    });
}

/// `set_with_ttl` racing a clock advance and a reader: the TTL counts from a reading taken during
/// the call, and whatever the reader sees is one of the states the key went through. Mutant
/// `expiry_inclusive` (a key is still live at its deadline) fails it.
#[test]
fn set_with_ttl_racing_the_clock_and_a_reader() {
    check(
        "set_with_ttl_racing_the_clock_and_a_reader",
        3,
        scenario(
            &[Set("k", int(1))],
            &[&[SetTtl("k", int(2), 1)], &[Advance(1), Get("k"), Ttl("k")]],
            &[Get("k"), Ttl("k"), Len],
        ),
    );
}

/// `expire` moves the deadline in place while an `incr` too large for the in-place counter
/// replaces the slot keeping the TTL: the `incr` must not reinstate the old deadline. Mutant
/// `no_deadline_check` (the replacement does not check that the deadline it copies is still
/// the slot's) fails it.
#[test]
fn a_write_keeping_the_ttl_never_undoes_an_in_place_expire() {
    check(
        "a_write_keeping_the_ttl_never_undoes_an_in_place_expire",
        3,
        scenario(
            &[SetTtl("k", int(1 << 62), 10)],
            &[&[Incr("k", 1)], &[Expire("k", 20)]],
            &[Get("k"), Ttl("k")],
        ),
    );
}
