//! Models of "no reader ever sees a value with another write's TTL": every write's value is
//! named after the TTL it was written with, so a value paired with a foreign TTL shows up as a
//! history no sequential order explains.
#![cfg(scriptling_kv_loom)]

mod common;
use std::time::Duration;

use common::{check, s, scenario, Op::*};

/// `set` racing `set_with_ttl`: the key ends with one write's value *and* that write's TTL.
/// Mutant `split_ttl` (a put installs the value first and the deadline in a second step) fails it.
#[test]
fn set_racing_set_with_ttl_never_mixes_value_and_ttl() {
    check(
        "set_racing_set_with_ttl_never_mixes_value_and_ttl",
        4,
        scenario(
            &[SetTtl("k", s("ttl=10"), 10)],
            &[
                &[Set("k", s("persistent"))],
                &[SetTtl("k", s("ttl=20"), 20)],
            ],
            &[Get("k"), Ttl("k")],
        ),
    );
}

/// A reader racing `set`: `get` then `ttl` on another thread must see states some sequential
/// order explains (after `get` returned the new value, `ttl` must not report the old TTL).
/// Mutant `split_ttl` fails it.
#[test]
fn reader_never_sees_a_value_with_another_writes_ttl() {
    check(
        "reader_never_sees_a_value_with_another_writes_ttl",
        3,
        scenario(
            &[SetTtl("k", s("ttl=10"), 10)],
            &[&[Set("k", s("persistent"))], &[Get("k"), Ttl("k")]],
            &[Get("k"), Ttl("k")],
        ),
    );
}

/// `expire` and `persist` racing `set`/`set_with_ttl`: `expire`/`persist` keep the value they
/// saw and change only its TTL; they must never give a TTL to a value written after they read,
/// nor lose that write. Mutant `incr_cas_as_store` (a write's CAS becomes load-compare-store)
/// fails it.
#[test]
fn expire_persist_racing_set_keep_value_and_ttl_paired() {
    check(
        "expire_persist_racing_set_keep_value_and_ttl_paired",
        3,
        scenario(
            &[SetTtl("k", s("ttl=10"), 10)],
            &[
                &[Expire("k", 30), Persist("k")],
                &[Set("k", s("persistent")), SetTtl("k", s("ttl=20"), 20)],
            ],
            &[Get("k"), Ttl("k")],
        ),
    );
}

/// A zero-TTL `swap` racing a `set` and a reader: the reader sees the old value, the set's value
/// or nothing, never the zero-TTL value; the swap returns the value it replaced; afterwards the
/// key holds the set's value if the set came last, and nothing if the swap did. When the swap's
/// removal loses its compare-and-swap to the set, it decides again with its value. Mutant
/// `zero_is_persistent` (a zero TTL meaning "no expiry", as it once did) fails it.
#[test]
fn a_zero_ttl_value_is_never_observed() {
    common::model("a_zero_ttl_value_is_never_observed", 1, || {
        let (store, _clock) = common::new_store();
        store.set("k", "old");
        let reader = {
            let store = store.clone();
            loom::thread::spawn(move || store.get("k"))
        };
        let writer = {
            let store = store.clone();
            loom::thread::spawn(move || store.set("k", "new"))
        };
        let swapped = store.swap("k", "zero", Some(Duration::ZERO));
        let seen = reader.join().unwrap();
        writer.join().unwrap();
        let after = store.get("k");
        let consistent = match &swapped {
            // The swap came first: the set's value is there.
            Some(v) if *v == s("old") => after == Some(s("new")),
            // The set came first: the swap removed its value.
            Some(v) if *v == s("new") => after.is_none() && store.len() == 0,
            _ => false,
        };
        if seen == Some(s("zero")) || !consistent {
            return Err(format!(
                "a zero TTL value was observed or kept: reader saw {seen:?}, swap returned \
                 {swapped:?}, afterwards {after:?}, len {}",
                store.len()
            ));
        }
        Ok(())
    });
}
